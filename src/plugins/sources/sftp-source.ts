import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type SftpClient from 'ssh2-sftp-client';
import { z } from 'zod';
import { SluiceError, errorMessage } from '../../core/errors.js';
import { createMasker } from '../../core/secrets.js';
import { defineSource, type FileOutcome, type SourceFile } from '../../core/plugin.js';
import { uniqueName } from '../../core/file-names.js';
import { settleOptions } from './settle.js';

const posix = path.posix;

/** `ssh-keygen -lf` prints `SHA256:` and 43 base64 characters (the padding dropped). */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;
const fingerprint = z
  .string()
  .regex(FINGERPRINT, 'a SHA256 fingerprint as `ssh-keygen -lf` prints it (SHA256: then 43 characters)');

const options = z
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
    password: z
      .string()
      .optional()
      .describe('Password (secret: take it from the environment, ${SFTP_PASSWORD}).'),
    privateKey: z
      .string()
      .optional()
      .describe('Private key for key authentication, as PEM/OpenSSH text (secret).'),
    privateKeyPath: z
      .string()
      .optional()
      .describe('Private key for key authentication, read from this local file.'),
    passphrase: z.string().optional().describe('Passphrase of an encrypted private key (secret).'),
    hostKey: z
      .union([fingerprint, z.array(fingerprint).min(1)])
      .optional()
      .describe(
        'The server host key(s) to trust, as `ssh-keygen -lf` prints them (SHA256:...). Get it with ' +
          '`ssh-keyscan -p PORT HOST | ssh-keygen -lf -`, or from the error a first connection gives.',
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
    readyTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(20_000)
      .describe('How long to wait for the SSH connection and login, in milliseconds.'),
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
      ctx.addIssue({ code: 'custom', message: 'give source.privateKey or source.privateKeyPath, not both' });
    }
  });

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
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new Error('source.url is not a valid URL; expected sftp://user@host:port/path');
    }
    if (url.protocol !== 'sftp:')
      throw new Error(`source.url must start with sftp:// (not ${url.protocol}//)`);
    if (url.password) throw new Error('do not put the password in source.url: give it as source.password');
    if (url.search || url.hash) throw new Error('source.url must not have a query (?) or a fragment (#)');
    fromUrl = {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1') || undefined,
      port: url.port ? Number(url.port) : undefined,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      dir: decodeURIComponent(url.pathname) || '/',
    };
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

/** The fingerprint `ssh-keygen -lf` prints for a raw public key blob. */
function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** An error raised by ssh2 itself, which ssh2-sftp-client rewraps and strips of `level`. */
interface Ssh2Error extends Error {
  level?: string;
  code?: string | number;
}

/** Files in a folder of an SFTP server. */
export const sftpSource = defineSource({
  name: 'sftp',
  summary: 'Files in a folder of an SFTP server matching a glob; the host key is pinned.',
  schemes: ['sftp'],
  options,
  async open(opts, context) {
    const { host, port, username, dir } = resolveTarget(opts);
    const hostPart = host.includes(':') ? `[${host}]` : host;
    const where = `${username}@${hostPart}:${port}`;
    const location = `sftp://${encodeURIComponent(username)}@${hostPart}:${port}${dir.startsWith('/') ? '' : '/~/'}${dir}`;
    const isMatch = picomatch(opts.glob, { dot: false });
    const pinned = (opts.hostKey === undefined ? [] : [opts.hostKey].flat()).map((k) => k.replace(/=+$/, ''));
    const remote = (name: string) => (name.startsWith('/') ? posix.normalize(name) : posix.join(dir, name));

    // Secrets never reach a message: ssh2 does not put them there, but a server may echo odd things.
    const redact = createMasker([opts.password, opts.passphrase, opts.privateKey]);
    const rawMessage = (error: unknown) => redact(errorMessage(error));

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

    if (context.signal.aborted) throw new SluiceError('ABORTED', `aborted before connecting to ${location}`);

    // Heavy: loaded only when an sftp source is used.
    const { default: Client } = await import('ssh2-sftp-client');
    let closing = false;
    const client: SftpClient = new Client('sluice', {
      error: (error) => {
        if (!closing) context.logger.warn(`sftp connection to ${where} failed: ${rawMessage(error)}`);
      },
      end: () => {
        if (!closing) context.logger.debug(`sftp connection to ${where} ended`);
      },
      close: () => {
        if (!closing) context.logger.debug(`sftp connection to ${where} closed`);
      },
    });

    // ssh2-sftp-client rewraps ssh2's errors ("getConnection: ..."), losing `level`; keep the originals.
    // The first one tells the story: a handshake timeout is followed by "Connection lost before handshake".
    const rawErrors: Ssh2Error[] = [];
    client.on('error', (error: Ssh2Error) => {
      rawErrors.push(error);
    });
    let presentedKey: string | undefined;
    let hostKeyRefused = false;
    const hostVerifier = (key: Buffer): boolean => {
      presentedKey = fingerprintOf(key);
      if (pinned.includes(presentedKey)) return true;
      if (pinned.length === 0 && opts.allowUnknownHostKey) {
        context.logger.warn(`accepting the unpinned host key of ${hostPart}:${port} (allowUnknownHostKey)`, {
          hostKey: presentedKey,
          hint: `pin it with source.hostKey: ${presentedKey}`,
        });
        return true;
      }
      hostKeyRefused = true;
      return false;
    };

    // client.end() does nothing until the sftp channel is up; the ssh2 client under it can always be cut.
    const ssh = (client as unknown as { client?: { destroy(): void } }).client;
    const drop = async () => {
      closing = true;
      await client.end().catch(() => undefined);
      ssh?.destroy();
    };
    const onAbort = () => {
      void drop();
    };
    context.signal.addEventListener('abort', onAbort, { once: true });

    try {
      await client.connect({
        host,
        port,
        username,
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        ...(privateKey !== undefined ? { privateKey } : {}),
        ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}),
        hostVerifier,
        readyTimeout: opts.readyTimeoutMs,
        keepaliveInterval: 15_000,
      });
    } catch (error) {
      context.signal.removeEventListener('abort', onAbort);
      await drop();
      throw connectError(error);
    }

    function connectError(error: unknown): SluiceError {
      if (context.signal.aborted)
        return new SluiceError('ABORTED', `aborted while connecting to ${location}`, { cause: error });
      if (hostKeyRefused && presentedKey) {
        const why =
          pinned.length === 0
            ? 'no source.hostKey is pinned'
            : `it is not the pinned source.hostKey (${pinned.join(', ')})`;
        return new SluiceError(
          'SOURCE_AUTH',
          `the host key of ${hostPart}:${port} is not trusted: the server presented ${presentedKey} and ${why}. ` +
            `If this is the right server, pin its key with source.hostKey: ${presentedKey}`,
          {
            where: 'source.hostKey',
            hint: `Check the fingerprint with the server's administrator (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then set source.hostKey: ${presentedKey}`,
          },
        );
      }
      const raw = rawErrors[0];
      const message = rawMessage(raw ?? error);
      const code = String(raw?.code ?? (error as Ssh2Error | undefined)?.code ?? '');
      const cause = raw ?? error;
      if (raw?.level === 'client-authentication' || /authentication/i.test(message)) {
        const methods = [
          opts.password !== undefined && 'password',
          privateKey !== undefined && 'private key',
        ].filter(Boolean);
        return new SluiceError(
          'SOURCE_AUTH',
          `${where} refused the login (${methods.length ? `tried ${methods.join(' and ')}` : 'no password or key given'})`,
          { cause, where: 'source', hint: 'Check source.username, source.password or the private key.' },
        );
      }
      if (/privateKey|private key|passphrase/i.test(message)) {
        return new SluiceError('CONFIG_INVALID', `the private key cannot be used: ${message}`, {
          cause,
          where: opts.privateKeyPath !== undefined ? 'source.privateKeyPath' : 'source.privateKey',
        });
      }
      if (
        raw?.level === 'client-socket' ||
        raw?.level === 'client-timeout' ||
        raw?.level === 'client-dns' ||
        /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(
          code,
        ) ||
        /timed out|connection lost|unexpected (end|close)/i.test(message)
      ) {
        const what =
          code === 'ECONNREFUSED'
            ? 'refused the connection'
            : raw?.level === 'client-timeout'
              ? `did not complete the SSH handshake within ${opts.readyTimeoutMs} ms`
              : 'cannot be reached';
        return new SluiceError(
          'SOURCE_UNREACHABLE',
          `the SFTP server ${hostPart}:${port} ${what} (${message})`,
          {
            cause,
            retryable: true,
            hint: 'Check source.host and source.port, and that the server is up; readyTimeoutMs sets the wait.',
          },
        );
      }
      return new SluiceError('SOURCE_UNREACHABLE', `connecting to ${location} failed: ${message}`, { cause });
    }

    /** Errors after the connection is up: a lost connection is retryable, a refusal by the server is not. */
    function ioError(action: string, error: unknown): SluiceError {
      if (context.signal.aborted)
        return new SluiceError('ABORTED', `aborted while ${action}`, { cause: error });
      const message = rawMessage(error);
      const code = String((error as Ssh2Error | undefined)?.code ?? '');
      if (
        /^(ECONNRESET|ERR_NOT_CONNECTED|EPIPE|ETIMEDOUT)$/.test(code) ||
        /no sftp connection|unexpected (end|close)|no response from server/i.test(message)
      ) {
        return new SluiceError(
          'SOURCE_UNREACHABLE',
          `the connection to ${location} was lost while ${action} (${message})`,
          {
            cause: error,
            retryable: true,
          },
        );
      }
      // SFTP status codes: 2 no such file, 3 permission denied; retrying does not help with those.
      const permanent =
        /^(2|3|EACCES|ENOENT|ERR_BAD_PATH)$/.test(code) || /permission denied|no such file/i.test(message);
      return new SluiceError('SOURCE_IO', `${action} failed: ${message}`, {
        cause: error,
        retryable: !permanent,
        where: location,
      });
    }

    try {
      const kind = await client.exists(dir);
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
      context.signal.removeEventListener('abort', onAbort);
      await drop();
      throw error instanceof SluiceError ? error : ioError(`reading the remote folder ${dir}`, error);
    }
    context.logger.info(`connected to ${location}`, { hostKey: presentedKey });

    async function moveWithin(file: SourceFile, folder: string) {
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

    let closed = false;
    return {
      location,
      async *list() {
        let entries: SftpClient.FileInfo[];
        try {
          entries = await client.list(dir);
        } catch (error) {
          throw ioError(`listing ${dir}`, error);
        }
        const files = entries
          .filter((e) => e.type === '-' && isMatch(e.name))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const e of files) {
          yield {
            id: posix.join(dir, e.name),
            name: e.name,
            size: e.size,
            modifiedAt: new Date(e.modifyTime),
          };
        }
      },
      async fetch(file) {
        const folder = await mkdtemp(path.join(context.workDir, 'sftp-'));
        const local = path.join(folder, path.basename(file.name));
        const part = `${local}.part`;
        try {
          await client.fastGet(file.id, part);
          const remoteSize = (await client.stat(file.id)).size;
          const localSize = (await stat(part)).size;
          if (localSize !== remoteSize) {
            throw new SluiceError(
              'SOURCE_IO',
              `${file.name} arrived incomplete: ${localSize} bytes downloaded, ${remoteSize} bytes at the source`,
              { retryable: true, where: file.id },
            );
          }
          await rename(part, local);
          return { path: local, size: localSize, temporary: true };
        } catch (error) {
          await rm(folder, { recursive: true, force: true });
          throw error instanceof SluiceError ? error : ioError(`downloading ${file.id}`, error);
        }
      },
      async settle(file: SourceFile, outcome: FileOutcome) {
        const action = outcome === 'rejected' ? opts.onReject : opts.onLoad;
        const folder = outcome === 'rejected' ? opts.rejectedDir : opts.processedDir;
        if (action === 'keep') return;
        try {
          if (action === 'delete') {
            await client.delete(file.id, true);
            context.logger.debug(`deleted ${file.name} at the source`, { outcome });
          } else {
            const destination = await moveWithin(file, folder);
            context.logger.debug(`moved ${file.name} to ${destination} at the source`, { outcome });
          }
        } catch (error) {
          throw ioError(`${action === 'delete' ? 'deleting' : 'moving'} ${file.id}`, error);
        }
      },
      async close() {
        if (closed) return;
        closed = true;
        closing = true;
        context.signal.removeEventListener('abort', onAbort);
        await client.end().catch((error: unknown) => {
          context.logger.debug(`closing the sftp connection to ${where} failed: ${rawMessage(error)}`);
        });
      },
    };
  },
});
