import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type SftpClient from 'ssh2-sftp-client';
import { z } from 'zod';
import { SluiceError, errorMessage } from '../../core/errors.js';
import { createMasker } from '../../core/secrets.js';
import { defineSource, type FileOutcome, type SourceFile } from '../../core/plugin.js';
import { uniqueName } from '../../core/file-names.js';
import {
  connectSftp,
  isConnectionLost,
  sftpIoError,
  type SftpConnection,
} from '../../connectors/sftp/sftp-connection.js';
import {
  hostKeySchema,
  sftpCredentialOptions,
  pinnedFingerprints,
} from '../../connectors/sftp/host-key-option.js';
import {
  LeftOut,
  listedFiles,
  sameObservation,
  stabilityOptions,
  takeStable,
  type Candidate,
  type Observed,
} from './file-listing.js';
import { durationSchema } from '../../core/duration-schema.js';
import { parseServerUrl } from '../../core/server-url.js';
import { withRenamedKeys } from '../../core/renamed-keys.js';
import { settleOptions } from './settle.js';

const posix = path.posix;

const options = withRenamedKeys(
  'sftp',
  z
    .strictObject({
      url: z
        .string()
        .min(1)
        .optional()
        .describe(
          'The remote folder as sftp://user@host:port/absolute/path (user and port optional, port 22 by default).',
        ),
      host: z.string().min(1).optional().describe('Server name or address; overrides the host of url.'),
      port: z.coerce
        .number()
        .int()
        .min(1)
        .max(65535)
        .optional()
        .describe('Server port; overrides the port of url (22 by default).'),
      username: z.string().min(1).optional().describe('Login name; overrides the user of url.'),
      path: z
        .string()
        .min(1)
        .optional()
        .describe(
          'The remote folder; overrides the path of url. A relative path is relative to the login folder.',
        ),
      ...sftpCredentialOptions,
      hostKey: hostKeySchema
        .optional()
        .describe(
          'The server host key(s) to trust, as `ssh-keygen -lf` prints them (SHA256:...). A server with ' +
            'several key types shows Sluice its ed25519 key when it has one: pin that line (or list several). ' +
            'Get it with `ssh-keyscan -p PORT HOST | ssh-keygen -lf -`, or from the error a first connection gives.',
        ),
      allowUnknownHostKey: z
        .boolean()
        .default(false)
        .describe(
          'Accept any host key when hostKey is not given (insecure: for tests and first contact only).',
        ),
      glob: z
        .string()
        .default('*')
        .describe('Which file names to take, as a glob on the base name (report_*.txt).'),
      connectTimeout: durationSchema
        .prefault('20s')
        .describe('How long to wait for the SSH connection and the login.'),
      ...stabilityOptions,
      ...settleOptions,
    })
    .superRefine((o, ctx) => {
      // Issues about the URL are reported on the section, not on `url`, so that the value (which may hold
      // a password by mistake) is not echoed back in the configuration error.
      if (o.url === undefined && (o.host === undefined || o.path === undefined)) {
        ctx.addIssue({
          code: 'custom',
          message: 'give source.url (sftp://user@host:port/path), or source.host and source.path',
        });
        return;
      }
      let target: Target;
      try {
        target = resolveTarget(o);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: errorMessage(error) });
        return;
      }
      if (!target.username)
        ctx.addIssue({
          code: 'custom',
          message: 'give the login name, as source.username or in source.url (sftp://user@host/path)',
        });
      if (o.privateKey !== undefined && o.privateKeyPath !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'give source.privateKey or source.privateKeyPath, not both',
        });
      }
    }),
);

type Options = z.output<typeof options>;

interface Target {
  host: string;
  port: number;
  username: string;
  /** The remote folder, normalized; absolute unless given relative to the login folder. */
  dir: string;
}

/** Host, port, user and folder from url, with the separate fields taking precedence. */
function resolveTarget(o: Pick<Options, 'url' | 'host' | 'port' | 'username' | 'path'>): Target {
  let fromUrl: Partial<Target> = {};
  if (o.url !== undefined) {
    const url = parseServerUrl(o.url, {
      field: 'source.url',
      protocols: ['sftp'],
      example: 'sftp://user@host:port/path',
      passwordField: 'source.password',
    });
    fromUrl = { host: url.host, port: url.port, username: url.username, dir: url.path || '/' };
  }
  const host = o.host ?? fromUrl.host;
  const dir = o.path ?? fromUrl.dir;
  if (!host) throw new Error('source.url has no host, and source.host is not given');
  if (!dir) throw new Error('the remote folder is missing: give source.path or a path in source.url');
  const normalized = posix.normalize(dir);
  return {
    host,
    port: o.port ?? fromUrl.port ?? 22,
    username: o.username ?? fromUrl.username ?? '',
    dir: normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized,
  };
}

/** Files in a folder of an SFTP server. */
export const sftpSource = defineSource({
  name: 'sftp',
  summary:
    'Files in a folder of an SFTP server matching a glob, taken once they are complete; the host key is pinned.',
  schemes: ['sftp'],
  options,
  async open(opts, context) {
    const { host, port, username, dir } = resolveTarget(opts);
    const { logger, signal } = context;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    const location = `sftp://${encodeURIComponent(username)}@${hostPart}:${port}${dir.startsWith('/') ? '' : '/~/'}${dir}`;
    const isMatch = picomatch(opts.glob, { dot: false });
    const pinned = pinnedFingerprints(opts.hostKey);
    const remote = (name: string) => (name.startsWith('/') ? posix.normalize(name) : posix.join(dir, name));
    // Secrets never reach a message: ssh2 does not put them there, but a server may echo odd things.
    const redact = createMasker([opts.password, opts.passphrase, opts.privateKey]);
    const ioError = (action: string, error: unknown) =>
      sftpIoError(action, error, { signal, redact, location });

    let privateKey: string | undefined = opts.privateKey;
    if (opts.privateKeyPath !== undefined) {
      try {
        privateKey = await readFile(opts.privateKeyPath, 'utf8');
      } catch (error) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `the private key file ${opts.privateKeyPath} cannot be read`,
          {
            where: 'source.privateKeyPath',
            cause: error,
          },
        );
      }
    }

    const connect = () =>
      connectSftp({
        endpoint: { host, port, username, password: opts.password, privateKey, passphrase: opts.passphrase },
        pinned,
        allowUnknownHostKey: opts.allowUnknownHostKey,
        readyTimeoutMs: opts.connectTimeout,
        location,
        privateKeyFromFile: opts.privateKeyPath !== undefined,
        logger,
        signal,
        redact,
      });

    let connection: SftpConnection | undefined = await connect();
    try {
      const kind = await connection.client.exists(dir);
      if (kind !== 'd') {
        throw new SluiceError(
          'SOURCE_UNREACHABLE',
          `the remote folder ${dir} on ${hostPart}:${port} ${kind ? 'is not a folder' : 'does not exist or cannot be read'}`,
          {
            where: 'source.path',
            hint: 'Check the path in source.url (or source.path).',
          },
        );
      }
    } catch (error) {
      await connection.close();
      throw ioError(`reading the remote folder ${dir}`, error);
    }
    logger.info(`connected to ${location}`, { hostKey: connection.hostKey });

    /**
     * Runs `work` on a live connection. A connection found dead, or lost during the work, is replaced by a new
     * one and the work tried once more; a second loss is thrown as retryable for the runner's own retries
     * (which reconnect too), never leaving a dead session to be reused.
     */
    async function withSftp<T>(action: string, work: (client: SftpClient) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        if (!connection?.alive) {
          await connection?.close();
          connection = undefined;
          logger.info(`reconnecting to ${location}`);
          connection = await connect();
        }
        try {
          return await work(connection.client);
        } catch (error) {
          const failure = ioError(action, error);
          if (!isConnectionLost(failure) || signal.aborted) throw failure;
          await connection.close();
          connection = undefined;
          if (attempt >= 2) throw failure;
          logger.warn(`${failure.message}; reconnecting`);
        }
      }
    }

    async function moveWithin(client: SftpClient, file: SourceFile, folder: string) {
      const target = remote(folder);
      try {
        if ((await client.exists(target)) !== 'd') await client.mkdir(target, true);
      } catch (error) {
        // Another run may have created it in between.
        if ((await client.exists(target).catch(() => false)) !== 'd') throw error;
      }
      const taken = new Set((await client.list(target)).map((e) => e.name));
      const destination = posix.join(target, uniqueName(file.name, taken));
      await client.rename(file.id, destination);
      return destination;
    }

    /** What each file was when listed, then fetched: it is deleted or moved only if it still is. */
    const seen = new Map<string, Observed>();
    /** The files symbolic links point to, by the link's id: read from there, deleted or moved as the link. */
    const linkTargets = new Map<string, string>();
    const observe = (info: { size: number; modifyTime: number }): Observed => ({
      size: info.size,
      modifiedMs: info.modifyTime,
    });
    /** The file's attributes now (a link followed), or undefined when it is not there. */
    const statNow = (client: SftpClient, id: string) =>
      client.stat(id).then(
        (info) => (info.isFile ? observe(info) : undefined),
        (error: unknown) => {
          if (isConnectionLost(error)) throw error;
          return undefined;
        },
      );

    let closed = false;
    return {
      location,
      async *list() {
        const entries = await withSftp(`listing ${dir}`, (client) => client.list(dir));
        const leftOut = new LeftOut();
        const candidates: Candidate<string>[] = [];
        const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const e of sorted) {
          const id = posix.join(dir, e.name);
          if (e.type === 'd') {
            leftOut.add('folder', e.name);
            continue;
          }
          if (!isMatch(e.name)) {
            leftOut.add('glob', e.name);
            continue;
          }
          let observed: Observed | undefined = observe(e);
          if (e.type === 'l') {
            const target = await withSftp(`reading the link ${id}`, (client) =>
              client.stat(id).catch((error: unknown) => {
                if (isConnectionLost(error)) throw error;
                return undefined;
              }),
            );
            if (!target) {
              logger.warn(`${e.name} is a symbolic link to nothing that can be read: not loaded`);
              continue;
            }
            if (target.isDirectory) {
              leftOut.add('folder', e.name);
              continue;
            }
            if (!target.isFile) {
              logger.warn(`${e.name} is a symbolic link to something that is not a regular file: not loaded`);
              continue;
            }
            const real = await withSftp(`reading the link ${id}`, (client) => client.realPath(id));
            linkTargets.set(id, real);
            logger.info(
              `${e.name} is a symbolic link: the file it points to (${real}) is read; a delete or move acts on the link`,
            );
            observed = observe(target);
          } else if (e.type !== '-') {
            logger.warn(`${e.name} is not a regular file (a pipe, socket or device): not loaded`);
            continue;
          }
          if (e.name.includes('\uFFFD')) {
            // The SFTP client reads names as UTF-8 and cannot spell other bytes back: such a file cannot be
            // opened, moved or deleted through it (unless the name really holds U+FFFD).
            observed = await withSftp(`reading ${id}`, (client) => statNow(client, id));
            if (!observed) {
              logger.warn(
                `${e.name}: the name is not valid UTF-8, so this file cannot be read over SFTP; not loaded. ` +
                  'Rename it at the source (in UTF-8) to have it loaded.',
              );
              continue;
            }
          }
          candidates.push({ name: e.name, observed, handle: id });
        }
        leftOut.log(logger, location);
        const taken = await takeStable(candidates, {
          stableForMs: opts.stableFor,
          minAgeMs: opts.minAge,
          restat: (c) => withSftp(`reading ${c.handle}`, (client) => statNow(client, c.handle)),
          logger,
          signal,
        });
        yield* listedFiles(taken, seen);
      },
      async fetch(file) {
        const folder = await mkdtemp(path.join(context.workDir, 'sftp-'));
        const local = path.join(folder, path.basename(file.name));
        const part = `${local}.part`;
        try {
          const from = linkTargets.get(file.id) ?? file.id;
          const got = await withSftp(`downloading ${file.id}`, async (client) => {
            const before = await client.stat(from);
            await client.fastGet(from, part);
            const after = await client.stat(from);
            if (!sameObservation(observe(before), observe(after))) {
              throw new SluiceError(
                'SOURCE_IO',
                `${file.name} changed at the source while it was downloaded (${before.size} → ${after.size} bytes)`,
                { retryable: true, where: file.id },
              );
            }
            return observe(after);
          });
          const localSize = (await stat(part)).size;
          if (localSize !== got.size) {
            throw new SluiceError(
              'SOURCE_IO',
              `${file.name} arrived incomplete: ${localSize} bytes downloaded, ${got.size} bytes at the source`,
              { retryable: true, where: file.id },
            );
          }
          seen.set(file.id, got);
          await rename(part, local);
          return { path: local, size: localSize, temporary: true };
        } catch (error) {
          await rm(folder, { recursive: true, force: true });
          throw ioError(`downloading ${file.id}`, error);
        }
      },
      async settle(file: SourceFile, outcome: FileOutcome) {
        const action = outcome === 'rejected' ? opts.onReject : opts.onLoad;
        const folder = outcome === 'rejected' ? opts.rejectedDir : opts.processedDir;
        if (action === 'keep') return;
        return withSftp(`${action === 'delete' ? 'deleting' : 'moving'} ${file.id}`, async (client) => {
          const now = await statNow(client, file.id);
          const before = seen.get(file.id);
          if (!now) return `no longer at the source: nothing to ${action}`;
          if (before && !sameObservation(now, before)) {
            logger.warn(
              `${file.name} changed at the source after it was read (${before.size} → ${now.size} bytes): ` +
                `not ${action === 'delete' ? 'deleted' : 'moved'}; the next run reads it again`,
            );
            return undefined;
          }
          if (action === 'delete') {
            await client.delete(file.id, true);
            return 'deleted at the source';
          }
          return `moved to ${posix.relative(dir, await moveWithin(client, file, folder))}`;
        });
      },
      async close() {
        if (closed) return;
        closed = true;
        await connection?.close();
        connection = undefined;
      },
    };
  },
});
