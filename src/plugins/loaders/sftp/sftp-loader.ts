import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import {
  hostKeySchema,
  sftpCredentialOptions,
  pinnedFingerprints,
} from '../../../connectors/sftp/host-key-option.js';
import { connectSftp, sftpIoError } from '../../../connectors/sftp/sftp-connection.js';
import { durationSchema } from '../../../core/duration-schema.js';
import { SluiceError } from '../../../core/errors.js';
import { defineLoader, type PluginContext } from '../../../core/plugin.js';
import { createMasker } from '../../../core/secrets.js';
import { parseServerUrl } from '../../../core/server-url.js';
import { createExportSession, exportFileFields, partialName, type ExportTarget } from '../export-file.js';

const posix = path.posix;

const URL_RULES = {
  field: 'load.url',
  protocols: ['sftp'],
  example: 'sftp://user@host:port/path',
  passwordField: 'load.password',
};

const options = z
  .strictObject({
    url: z
      .string()
      .min(1)
      .describe(
        'The remote folder as sftp://user@host:port/absolute/path (port 22 by default); created when missing.',
      ),
    ...sftpCredentialOptions,
    hostKey: hostKeySchema
      .optional()
      .describe(
        'The server host key(s) to trust, as `ssh-keygen -lf` prints them (SHA256:...), as for the sftp source.',
      ),
    allowUnknownHostKey: z
      .boolean()
      .default(false)
      .describe(
        'Accept any host key when hostKey is not given (insecure: for tests and first contact only).',
      ),
    connectTimeout: durationSchema
      .prefault('20s')
      .describe('How long to wait for the SSH connection and the login.'),
    ...exportFileFields,
  })
  .superRefine((o, ctx) => {
    // Reported on the section, not on `url`: the value (which may hold a password by mistake) is not echoed.
    try {
      const url = parseServerUrl(o.url, URL_RULES);
      if (!url.host) ctx.addIssue({ code: 'custom', message: 'load.url has no host' });
      if (!url.username)
        ctx.addIssue({ code: 'custom', message: 'give the login name in load.url (sftp://user@host/path)' });
      if (!url.path || url.path === '/')
        ctx.addIssue({
          code: 'custom',
          message: 'give the remote folder in load.url (sftp://user@host/path)',
        });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
    if (o.privateKey !== undefined && o.privateKeyPath !== undefined)
      ctx.addIssue({ code: 'custom', message: 'give load.privateKey or load.privateKeyPath, not both' });
  });

type Options = z.output<typeof options>;

/** An SFTP folder as an export's destination: uploaded under a hidden name, then renamed over the final one. */
function sftpTarget(o: Options, context: PluginContext): ExportTarget {
  const url = parseServerUrl(o.url, URL_RULES);
  const host = url.host!; // checked with the options
  const dir = posix.normalize(url.path || '/').replace(/(.)\/+$/, '$1');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const destination = `sftp://${encodeURIComponent(url.username ?? '')}@${hostPart}:${url.port ?? 22}${dir.startsWith('/') ? '' : '/~/'}${dir}`;
  const pinned = pinnedFingerprints(o.hostKey);
  const redact = createMasker([o.password, o.passphrase, o.privateKey]);
  return {
    destination,
    async deliver(localFile, name) {
      let privateKey = o.privateKey;
      if (o.privateKeyPath !== undefined)
        privateKey = await readFile(o.privateKeyPath, 'utf8').catch((error: unknown) => {
          throw new SluiceError('CONFIG_INVALID', `the private key file ${o.privateKeyPath} cannot be read`, {
            where: 'load.privateKeyPath',
            cause: error,
          });
        });
      const connection = await connectSftp({
        endpoint: {
          host,
          port: url.port ?? 22,
          username: url.username ?? '',
          password: o.password,
          privateKey,
          passphrase: o.passphrase,
        },
        pinned,
        allowUnknownHostKey: o.allowUnknownHostKey,
        readyTimeoutMs: o.connectTimeout,
        location: destination,
        privateKeyFromFile: o.privateKeyPath !== undefined,
        logger: context.logger,
        signal: context.signal,
        redact,
        section: 'load',
      });
      const partial = posix.join(dir, partialName(name));
      const final = posix.join(dir, name);
      try {
        const client = connection.client;
        if ((await client.exists(dir)) !== 'd') await client.mkdir(dir, true);
        await client.fastPut(localFile, partial);
        // posix-rename (an OpenSSH extension) replaces a file left under the final name by a run that
        // crashed before its commit; plain SFTP rename refuses to.
        await client.posixRename(partial, final);
      } catch (error) {
        await connection.client.delete(partial, true).catch(() => undefined);
        throw sftpIoError(`uploading ${name} to ${destination}`, error, {
          signal: context.signal,
          redact,
          location: destination,
        });
      } finally {
        await connection.close();
      }
    },
  };
}

/** Rows into one file uploaded to an SFTP folder: CSV, JSON lines, Parquet or XLSX, host key pinned. */
export const sftpLoader = defineLoader({
  name: 'sftp',
  summary:
    'One file per run (or per as-of date) uploaded to an SFTP folder: CSV, JSON lines, Parquet or XLSX, under a temporary name then renamed; the host key is pinned.',
  options,
  capabilities: { modes: ['replace'], transactional: true, maxIdentifierLength: 1024 },
  writeMode: () => 'replace',
  async open(opts, context) {
    return createExportSession(opts, context, sftpTarget(opts, context));
  },
});
