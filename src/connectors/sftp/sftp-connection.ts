import { createHash } from 'node:crypto';
import type SftpClient from 'ssh2-sftp-client';
import { formatDuration } from '../../core/duration.js';
import { SluiceError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/plugin.js';

/** Where to connect and as whom. */
export interface SftpEndpoint {
  host: string;
  port: number;
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  passphrase?: string | undefined;
}

export interface SftpConnectOptions {
  endpoint: SftpEndpoint;
  /** Trusted host key fingerprints (`SHA256:…` without padding); empty trusts none unless `allowUnknownHostKey`. */
  pinned: string[];
  allowUnknownHostKey: boolean;
  readyTimeoutMs: number;
  /** Where the files are, safe to print (no secrets): names the server in messages. */
  location: string;
  /** Whether the key came from a file (for the config path an error names). */
  privateKeyFromFile: boolean;
  logger: Logger;
  signal: AbortSignal;
  /** Masks secrets in messages. */
  redact: (text: string) => string;
  /** The section of the pipeline the options are in, for messages: `source` (default) or `load`. */
  section?: 'source' | 'load';
}

/** One SSH connection with its SFTP channel. Once `alive` is false it is of no more use: open another. */
export interface SftpConnection {
  readonly client: SftpClient;
  /** The host key the server presented. */
  readonly hostKey: string | undefined;
  readonly alive: boolean;
  /** Ends the connection (a dead one is cut); never throws. */
  close(): Promise<void>;
}

/** The fingerprint `ssh-keygen -lf` prints for a raw public key blob. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type a public key blob starts with (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`…). */
export function keyTypeOf(keyBlob: Buffer): string | undefined {
  if (keyBlob.length < 4) return undefined;
  const length = keyBlob.readUInt32BE(0);
  if (length > 64 || 4 + length > keyBlob.length) return undefined;
  const type = keyBlob.subarray(4, 4 + length).toString('latin1');
  return /^[a-z0-9@.-]+$/.test(type) ? type : undefined;
}

/** An error raised by ssh2 itself, which ssh2-sftp-client rewraps and strips of `level`. */
interface Ssh2Error extends Error {
  level?: string;
  code?: string | number;
}

/**
 * Connects and logs in, the host key checked against the pinned ones. Failures are SluiceErrors: a refused
 * key or login is `SOURCE_AUTH`, a server that cannot be reached `SOURCE_UNREACHABLE` (retryable).
 */
export async function connectSftp(o: SftpConnectOptions): Promise<SftpConnection> {
  const { endpoint, logger, signal, redact } = o;
  const at = o.section ?? 'source';
  const hostPart = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  const where = `${endpoint.username}@${hostPart}:${endpoint.port}`;
  if (signal.aborted) throw new SluiceError('ABORTED', `aborted before connecting to ${o.location}`);

  // Heavy: loaded only when an sftp source is used.
  const { default: Client } = await import('ssh2-sftp-client');
  let closing = false;
  let alive = true;
  const client: SftpClient = new Client('sluice', {
    error: (error) => {
      alive = false;
      if (!closing) logger.warn(`sftp connection to ${where} failed: ${redact(errorMessage(error))}`);
    },
    end: () => {
      alive = false;
      if (!closing) logger.debug(`sftp connection to ${where} ended`);
    },
    close: () => {
      alive = false;
      if (!closing) logger.debug(`sftp connection to ${where} closed`);
    },
  });

  // ssh2-sftp-client rewraps ssh2's errors ("getConnection: ..."), losing `level`; keep the originals.
  // The first one tells the story: a handshake timeout is followed by "Connection lost before handshake".
  const rawErrors: Ssh2Error[] = [];
  client.on('error', (error: Ssh2Error) => {
    rawErrors.push(error);
  });
  let presentedKey: string | undefined;
  let presentedType: string | undefined;
  let hostKeyRefused = false;
  const hostVerifier = (key: Buffer): boolean => {
    presentedKey = fingerprintOf(key);
    presentedType = keyTypeOf(key);
    if (o.pinned.includes(presentedKey)) return true;
    if (o.pinned.length === 0 && o.allowUnknownHostKey) {
      logger.warn(`accepting the unpinned host key of ${hostPart}:${endpoint.port} (allowUnknownHostKey)`, {
        hostKey: presentedKey,
        hint: `pin it with ${at}.hostKey: ${presentedKey}`,
      });
      return true;
    }
    hostKeyRefused = true;
    return false;
  };

  // client.end() does nothing until the sftp channel is up; the ssh2 client under it can always be cut. Its
  // 'close' always fires when the socket goes (ssh2-sftp-client's own callbacks skip events an operation
  // in progress has handled).
  const ssh = (client as unknown as { client?: { destroy(): void; on(event: 'close', f: () => void): void } })
    .client;
  ssh?.on('close', () => {
    alive = false;
  });
  const drop = async () => {
    closing = true;
    alive = false;
    await client.end().catch(() => undefined);
    ssh?.destroy();
  };
  const onAbort = () => {
    void drop();
  };
  signal.addEventListener('abort', onAbort, { once: true });

  try {
    await client.connect({
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.username,
      ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
      ...(endpoint.privateKey !== undefined ? { privateKey: endpoint.privateKey } : {}),
      ...(endpoint.passphrase !== undefined ? { passphrase: endpoint.passphrase } : {}),
      hostVerifier,
      readyTimeout: o.readyTimeoutMs,
      keepaliveInterval: 15_000,
    });
  } catch (error) {
    signal.removeEventListener('abort', onAbort);
    await drop();
    throw connectError(error);
  }

  function connectError(error: unknown): SluiceError {
    if (signal.aborted)
      return new SluiceError('ABORTED', `aborted while connecting to ${o.location}`, { cause: error });
    if (hostKeyRefused && presentedKey) {
      const why =
        o.pinned.length === 0
          ? `no ${at}.hostKey is pinned`
          : `it is not the pinned ${at}.hostKey (${o.pinned.join(', ')})`;
      return new SluiceError(
        'SOURCE_AUTH',
        `the host key of ${hostPart}:${endpoint.port} is not trusted: the server presented its ${presentedType ? `${presentedType} ` : ''}key ${presentedKey} and ${why}. ` +
          `If this is the right server, pin its key with ${at}.hostKey: ${presentedKey}`,
        {
          where: `${at}.hostKey`,
          hint:
            `Check the fingerprint with the server's administrator (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then set ${at}.hostKey: ${presentedKey}. ` +
            'A server with several keys shows its ed25519 key first, then ECDSA, then RSA: pin that one, or list several.',
        },
      );
    }
    const raw = rawErrors[0];
    const message = redact(errorMessage(raw ?? error));
    const code = String(raw?.code ?? (error as Ssh2Error | undefined)?.code ?? '');
    const cause = raw ?? error;
    if (raw?.level === 'client-authentication' || /authentication/i.test(message)) {
      const methods = [
        endpoint.password !== undefined && 'password',
        endpoint.privateKey !== undefined && 'private key',
      ].filter(Boolean);
      return new SluiceError(
        'SOURCE_AUTH',
        `${where} refused the login (${methods.length ? `tried ${methods.join(' and ')}` : 'no password or key given'})`,
        { cause, where: at, hint: `Check ${at}.username, ${at}.password or the private key.` },
      );
    }
    if (/privateKey|private key|passphrase/i.test(message)) {
      return new SluiceError('CONFIG_INVALID', `the private key cannot be used: ${message}`, {
        cause,
        where: o.privateKeyFromFile ? `${at}.privateKeyPath` : `${at}.privateKey`,
      });
    }
    if (
      raw?.level === 'client-socket' ||
      raw?.level === 'client-timeout' ||
      raw?.level === 'client-dns' ||
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(code) ||
      /timed out|connection lost|unexpected (end|close)/i.test(message)
    ) {
      const what =
        code === 'ECONNREFUSED'
          ? 'refused the connection'
          : raw?.level === 'client-timeout'
            ? `did not complete the SSH handshake within ${formatDuration(o.readyTimeoutMs)}`
            : 'cannot be reached';
      return new SluiceError(
        'SOURCE_UNREACHABLE',
        `the SFTP server ${hostPart}:${endpoint.port} ${what} (${message})`,
        {
          cause,
          retryable: true,
          hint: `Check ${at}.host and ${at}.port, and that the server is up; ${at}.connectTimeout sets the wait.`,
        },
      );
    }
    return new SluiceError('SOURCE_UNREACHABLE', `connecting to ${o.location} failed: ${message}`, { cause });
  }

  return {
    client,
    hostKey: presentedKey,
    get alive() {
      return alive && !closing;
    },
    async close() {
      if (closing) return;
      signal.removeEventListener('abort', onAbort);
      if (alive) {
        closing = true;
        await client.end().catch((error: unknown) => {
          logger.debug(`closing the sftp connection to ${where} failed: ${redact(errorMessage(error))}`);
        });
      }
      await drop();
    },
  };
}

/**
 * An error after the connection is up as a SluiceError: a lost connection is `SOURCE_UNREACHABLE` and
 * retryable (on a new connection); a refusal by the server (no such file, permission denied) is not.
 */
export function sftpIoError(
  action: string,
  error: unknown,
  o: { signal: AbortSignal; redact: (text: string) => string; location: string },
): SluiceError {
  if (error instanceof SluiceError) return error;
  if (o.signal.aborted) return new SluiceError('ABORTED', `aborted while ${action}`, { cause: error });
  const message = o.redact(errorMessage(error));
  const code = String((error as Ssh2Error | undefined)?.code ?? '');
  if (isConnectionLost(error)) {
    return new SluiceError(
      'SOURCE_UNREACHABLE',
      `the connection to ${o.location} was lost while ${action} (${message})`,
      { cause: error, retryable: true },
    );
  }
  // SFTP status codes: 2 no such file, 3 permission denied; retrying does not help with those.
  const permanent =
    /^(2|3|EACCES|ENOENT|ERR_BAD_PATH)$/.test(code) || /permission denied|no such file/i.test(message);
  return new SluiceError('SOURCE_IO', `${action} failed: ${message}`, {
    cause: error,
    retryable: !permanent,
    where: o.location,
  });
}

/** True for an error that says the connection is gone (the next try must open a new one). */
export function isConnectionLost(error: unknown): boolean {
  if (error instanceof SluiceError) return error.code === 'SOURCE_UNREACHABLE' && error.retryable;
  const message = errorMessage(error);
  const code = String((error as Ssh2Error | undefined)?.code ?? '');
  return (
    /^(ECONNRESET|ERR_NOT_CONNECTED|EPIPE|ETIMEDOUT|ECONNABORTED)$/.test(code) ||
    /no sftp connection|not connected|unexpected (end|close)|no response from server|connection (lost|closed|reset)|channel (closed|open failure)/i.test(
      message,
    )
  );
}
