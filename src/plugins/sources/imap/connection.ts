import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { FetchMessageObject, ImapFlow } from 'imapflow';
import { z } from 'zod';
import { SluiceError, errorMessage } from '../../../core/errors.js';
import { formatDuration } from '../../../core/duration.js';
import { durationSchema } from '../../../core/duration-schema.js';
import { removeWritten } from '../../../core/partial-file.js';
import type { Logger } from '../../../core/plugin.js';
import { withRenamedKeys } from '../../../core/renamed-keys.js';
import { securityOption, type Security } from '../../../core/tls-option.js';
import { parseServerUrl } from '../../../core/server-url.js';

const oauth2Auth = z.strictObject({
  type: z.literal('oauth2'),
  username: z
    .string()
    .min(1)
    .optional()
    .describe('Login name (the mail address); overrides the username beside auth and the url.'),
  clientId: z.string().min(1).describe('OAuth2 client id.'),
  clientSecret: z.string().min(1).describe('OAuth2 client secret (secret: ${IMAP_CLIENT_SECRET}).'),
  refreshToken: z
    .string()
    .min(1)
    .describe('The refresh token exchanged for access tokens (secret: ${IMAP_REFRESH_TOKEN}).'),
  tokenUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("The token endpoint; Google's (https://oauth2.googleapis.com/token) by default."),
});

const passwordAuth = z.strictObject({
  type: z.literal('password'),
  username: z
    .string()
    .min(1)
    .optional()
    .describe('Login name; overrides the username beside auth and the url.'),
  password: z.string().describe('Password (secret: ${IMAP_PASSWORD}).'),
});

export type OAuth2Auth = z.output<typeof oauth2Auth>;

/** How to reach and log in to a mailbox: the options of the imap source and of a saved account. */
export const connectionShape = {
  url: z
    .string()
    .min(1)
    .optional()
    .describe(
      'The mailbox as imap://user@host:port/INBOX (imaps:// for implicit TLS; port 143 or 993 by default).',
    ),
  host: z.string().min(1).optional().describe('Server name or address; overrides the host of url.'),
  port: z.coerce.number().int().min(1).max(65535).optional().describe('Server port; overrides url.'),
  username: z.string().min(1).optional().describe('Login name; overrides the user of url.'),
  mailbox: z.string().min(1).optional().describe('The mailbox to scan; overrides url (INBOX by default).'),
  password: z
    .string()
    .optional()
    .describe('Password (secret: take it from the environment, ${IMAP_PASSWORD}); or give auth.'),
  auth: z
    .discriminatedUnion('type', [
      withRenamedKeys('imapAuth', passwordAuth),
      withRenamedKeys('imapAuth', oauth2Auth),
    ])
    .optional()
    .describe(
      'type: oauth2 logs in with XOAUTH2, a refresh token exchanged for access tokens (Gmail); ' +
        'type: password is the same as password.',
    ),
  security: securityOption(
    { starttls: 143, tls: 993 },
    'Default: tls for an imaps:// url, none otherwise.',
  ).optional(),
  allowSelfSigned: z
    .boolean()
    .default(false)
    .describe('Accept a TLS certificate that cannot be verified (insecure: tests only).'),
  processedMailbox: z
    .string()
    .min(1)
    .default('Processed')
    .describe('Where a message goes once all its files are settled (created when missing).'),
  errorMailbox: z
    .string()
    .min(1)
    .default('Error')
    .describe('Where a message that matches no rule goes (created when missing).'),
  timeout: durationSchema
    .prefault('30s')
    .describe('How long to wait for the connection, the login and each server answer.'),
};

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is used
const connectionObject = z.strictObject(connectionShape);
export type ConnectionOptions = z.output<typeof connectionObject>;

/** The checks of a connection that span fields; add with `.superRefine(checkConnection)`. */
export function checkConnection(
  o: Pick<
    ConnectionOptions,
    'url' | 'host' | 'port' | 'username' | 'mailbox' | 'security' | 'password' | 'auth'
  >,
  ctx: z.RefinementCtx,
) {
  if (o.url === undefined && o.host === undefined) {
    ctx.addIssue({ code: 'custom', message: 'give url (imap://user@host:port/INBOX), or host' });
    return;
  }
  if (o.password === undefined && o.auth === undefined)
    ctx.addIssue({ code: 'custom', message: 'give password, or auth (type: oauth2 or password)' });
  if (o.password !== undefined && o.auth !== undefined)
    ctx.addIssue({ code: 'custom', path: ['auth'], message: 'give password or auth, not both' });
  try {
    const target = resolveTarget(o);
    if (!target.username)
      ctx.addIssue({
        code: 'custom',
        message: 'give the login name, as username, auth.username or in url (imap://user@host/INBOX)',
      });
  } catch (error) {
    // Reported on the section, not on `url`, so a password put there by mistake is not echoed.
    ctx.addIssue({ code: 'custom', message: errorMessage(error) });
  }
}

export interface Target {
  host: string;
  port: number;
  username: string;
  mailbox: string;
  security: Security;
}

export function resolveTarget(
  o: Pick<ConnectionOptions, 'url' | 'host' | 'port' | 'username' | 'mailbox' | 'security' | 'auth'>,
): Target {
  let fromUrl: Partial<Target> = {};
  if (o.url !== undefined) {
    const url = parseServerUrl(o.url, {
      field: 'url',
      protocols: ['imap', 'imaps'],
      example: 'imap://user@host:port/INBOX',
      passwordField: 'password',
    });
    const mailbox = url.path.replace(/^\/+/, '').replace(/\/+$/, '');
    fromUrl = {
      host: url.host,
      port: url.port,
      username: url.username,
      mailbox: mailbox || undefined,
      security: url.protocol === 'imaps' ? 'tls' : 'none',
    };
  }
  const host = o.host ?? fromUrl.host;
  if (!host) throw new Error('url has no host, and host is not given');
  const security = o.security ?? fromUrl.security ?? 'none';
  return {
    host,
    port: o.port ?? fromUrl.port ?? (security === 'tls' ? 993 : 143),
    username: o.auth?.username ?? o.username ?? fromUrl.username ?? '',
    mailbox: o.mailbox ?? fromUrl.mailbox ?? 'INBOX',
    security,
  };
}

interface ImapError extends Error {
  code?: string;
  authenticationFailed?: boolean;
  responseText?: string;
  serverResponseCode?: string;
}

/**
 * Exchanges the refresh token for an access token at the token endpoint (google-auth-library's
 * OAuth2Client, which speaks Google's endpoint and any RFC 6749 one given as tokenUrl).
 */
export async function fetchAccessToken(auth: OAuth2Auth, timeoutMs: number): Promise<string> {
  const { OAuth2Client } = await import('google-auth-library');
  const client = new OAuth2Client({
    clientId: auth.clientId,
    clientSecret: auth.clientSecret,
    ...(auth.tokenUrl ? { endpoints: { oauth2TokenUrl: auth.tokenUrl } } : {}),
  });
  client.setCredentials({ refresh_token: auth.refreshToken });
  const endpoint = auth.tokenUrl ?? 'https://oauth2.googleapis.com/token';
  const redact = (text: string) =>
    [auth.clientSecret, auth.refreshToken].reduce(
      (t, s) => (s.length >= 4 ? t.split(s).join('***') : t),
      text,
    );
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${formatDuration(timeoutMs)} (timeout)`)),
        timeoutMs,
      );
    });
    const { token } = await Promise.race([client.getAccessToken(), timeout]);
    if (!token) throw new Error('the token endpoint answered without an access_token');
    return token;
  } catch (error) {
    const e = error as { status?: number; response?: { status?: number; data?: unknown }; code?: string };
    const status = e.response?.status ?? e.status;
    const data = e.response?.data as { error?: string; error_description?: string } | undefined;
    const detail = redact(
      data?.error
        ? `${data.error}${data.error_description ? `: ${data.error_description}` : ''}`
        : errorMessage(error),
    );
    if (status !== undefined && status >= 400 && status < 500) {
      throw new SluiceError(
        'SOURCE_AUTH',
        `the token endpoint ${endpoint} refused the refresh token (${detail})`,
        {
          cause: error,
          where: 'source.auth',
          hint: 'Check auth.clientId, auth.clientSecret and auth.refreshToken (a revoked or expired refresh token must be issued again).',
        },
      );
    }
    throw new SluiceError('SOURCE_UNREACHABLE', `the token endpoint ${endpoint} failed (${detail})`, {
      cause: error,
      retryable: true,
      where: 'source.auth',
    });
  } finally {
    clearTimeout(timer);
  }
}

/** A logged-in connection to one mailbox, with the few operations mail in needs. */
export interface Mailbox {
  /** `imap://user@host:port/INBOX`, safe to log. */
  readonly location: string;
  readonly target: Target;
  /** Every message of the mailbox with its envelope, body structure, size and arrival time, by UID. */
  messages(): Promise<FetchMessageObject[]>;
  /** Moves messages (by UID) to `destination`, creating it when missing. */
  move(uids: readonly number[], destination: string): Promise<void>;
  /**
   * Writes a part of a message (decoded), or the whole raw message when `part` is undefined, to `file`;
   * returns its size. Throws SOURCE_UNREACHABLE (retryable) when the connection drops meanwhile.
   */
  download(uid: number, part: string | undefined, file: string): Promise<number>;
  /** The error of a connection that dropped, or of the operation given. */
  ioError(action: string, error: unknown): SluiceError;
  close(): Promise<void>;
}

/** Connects and logs in (with a password or XOAUTH2), selecting nothing yet. */
export async function openMailbox(
  opts: ConnectionOptions,
  context: { logger: Logger; signal: AbortSignal },
): Promise<Mailbox> {
  const target = resolveTarget(opts);
  const { host, port, username, mailbox, security } = target;
  const tls = security === 'tls';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const location = `${tls ? 'imaps' : 'imap'}://${encodeURIComponent(username)}@${hostPart}:${port}/${encodeURIComponent(mailbox)}`;
  const secrets = [
    opts.password,
    opts.auth?.type === 'password' ? opts.auth.password : undefined,
    opts.auth?.type === 'oauth2' ? opts.auth.clientSecret : undefined,
    opts.auth?.type === 'oauth2' ? opts.auth.refreshToken : undefined,
  ].filter((s): s is string => s !== undefined && s.length >= 4);
  const redact = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text);
  const describe = (error: unknown) => {
    const e = error as ImapError | undefined;
    return redact(e?.responseText ?? errorMessage(error));
  };

  if (context.signal.aborted) throw new SluiceError('ABORTED', `aborted before connecting to ${location}`);

  let auth: { user: string; pass: string } | { user: string; accessToken: string };
  if (opts.auth?.type === 'oauth2') {
    const accessToken = await fetchAccessToken(opts.auth, opts.timeout);
    secrets.push(accessToken);
    auth = { user: username, accessToken };
  } else {
    auth = { user: username, pass: opts.auth?.password ?? opts.password ?? '' };
  }

  // Heavy: loaded only when a mailbox is used.
  const { ImapFlow } = await import('imapflow');
  const client: ImapFlow = new ImapFlow({
    host,
    port,
    secure: tls,
    // true requires STARTTLS (refusing a server without it); false never sends it.
    doSTARTTLS: security === 'starttls' ? true : tls ? undefined : false,
    auth,
    // SNI takes names only (RFC 6066): Node warns when given an address.
    tls: { rejectUnauthorized: !opts.allowSelfSigned, ...(isIP(host) ? {} : { servername: host }) },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: opts.timeout,
    greetingTimeout: opts.timeout,
    socketTimeout: Math.max(opts.timeout, 60_000),
  });
  let closing = false;
  let lost: unknown;
  client.on('error', (error: unknown) => {
    lost ??= error;
    if (!closing) context.logger.warn(`imap connection to ${location} failed: ${describe(error)}`);
  });
  client.on('close', () => {
    if (closing) return;
    lost ??= new Error('the server closed the connection');
    context.logger.debug(`imap connection to ${location} closed`);
  });
  const onAbort = () => {
    closing = true;
    client.close();
  };
  context.signal.addEventListener('abort', onAbort, { once: true });

  try {
    await client.connect();
  } catch (error) {
    context.signal.removeEventListener('abort', onAbort);
    closing = true;
    client.close();
    throw connectError(error);
  }

  function connectError(error: unknown): SluiceError {
    if (context.signal.aborted)
      return new SluiceError('ABORTED', `aborted while connecting to ${location}`, { cause: error });
    const e = error as ImapError | undefined;
    const message = describe(error);
    if (e?.authenticationFailed || e?.serverResponseCode === 'AUTHENTICATIONFAILED') {
      const how = opts.auth?.type === 'oauth2' ? 'the XOAUTH2 login' : 'the login';
      return new SluiceError('SOURCE_AUTH', `${location} refused ${how} of ${username} (${message})`, {
        cause: error,
        where: 'source',
        hint:
          opts.auth?.type === 'oauth2'
            ? 'Check auth.username, and that the token grants mail access (scope https://mail.google.com/ for Gmail).'
            : 'Check username and password.',
      });
    }
    if (/certificate|self[- ]signed|tls|ssl/i.test(message) && !/ECONNREFUSED/.test(e?.code ?? '')) {
      return new SluiceError('SOURCE_AUTH', `the TLS connection to ${hostPart}:${port} failed: ${message}`, {
        cause: error,
        where: 'source',
        hint: 'Check security (starttls, tls or none); allowSelfSigned accepts an unverified certificate (tests only).',
      });
    }
    const what = e?.code === 'ECONNREFUSED' ? 'refused the connection' : 'cannot be reached';
    return new SluiceError('SOURCE_UNREACHABLE', `the IMAP server ${hostPart}:${port} ${what} (${message})`, {
      cause: error,
      retryable: true,
      hint: 'Check host and port (or the url), and that the server is up.',
    });
  }

  /** Errors after login: a lost connection is retryable; a refusal by the server usually is not. */
  function ioError(action: string, error: unknown): SluiceError {
    if (error instanceof SluiceError) return error;
    if (context.signal.aborted)
      return new SluiceError('ABORTED', `aborted while ${action}`, { cause: error });
    const e = error as ImapError | undefined;
    const message = describe(error);
    if (
      lost !== undefined ||
      !client.usable ||
      /^(ECONNRESET|EPIPE|ETIMEDOUT|NoConnection|ETIMEOUT|ClosedAfterConnectTLS)$/i.test(e?.code ?? '') ||
      /connection (not available|closed|lost)|unexpected close|socket/i.test(message)
    ) {
      return new SluiceError(
        'SOURCE_UNREACHABLE',
        `the connection to ${location} was lost while ${action} (${message})`,
        { cause: error, retryable: true },
      );
    }
    return new SluiceError('SOURCE_IO', `${action} failed: ${message}`, { cause: error, where: location });
  }

  async function withMailbox<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      const lock = await client.getMailboxLock(mailbox);
      try {
        return await fn();
      } finally {
        lock.release();
      }
    } catch (error) {
      throw ioError(action, error);
    }
  }

  const created = new Set<string>();
  async function ensureMailbox(name: string) {
    if (created.has(name)) return;
    // ALREADYEXISTS comes back as `created: false`, not as an error.
    await client.mailboxCreate(name);
    created.add(name);
  }

  await withMailbox(`opening ${mailbox}`, async () => Promise.resolve());
  context.logger.info(`connected to ${location}`);

  let closed = false;
  return {
    location,
    target,
    messages: () =>
      withMailbox(`listing ${mailbox}`, async () => {
        const box = client.mailbox;
        if (box === false || box.exists === 0) return [];
        const messages = await client.fetchAll(
          '1:*',
          { uid: true, envelope: true, bodyStructure: true, internalDate: true, size: true },
          { uid: false },
        );
        return messages.sort((a, b) => a.uid - b.uid);
      }),
    move: (uids, destination) =>
      withMailbox(`moving message(s) ${uids.join(',')} to ${destination}`, async () => {
        if (uids.length === 0) return;
        await ensureMailbox(destination);
        // The lock was taken before the mailbox was created: mailboxCreate does not change the selection.
        const result = await client.messageMove(uids.join(','), destination, { uid: true });
        if (result === false) throw new Error(`the server did not move message(s) ${uids.join(',')}`);
      }),
    async download(uid, part, file) {
      const what = part === undefined ? `message ${uid}` : `part ${part} of message ${uid}`;
      await withMailbox(`downloading ${what}`, async () => {
        const download = await client.download(String(uid), part, { uid: true });
        if (!download.content) {
          throw new SluiceError('SOURCE_IO', `message ${uid} is no longer in ${mailbox}`, {
            where: location,
          });
        }
        const out = createWriteStream(file);
        await pipeline(download.content, out).catch(async (error: unknown) => {
          await removeWritten(out, file);
          throw error;
        });
      });
      // A dropped connection may end the stream early instead of failing it.
      if (lost !== undefined || !client.usable) {
        throw ioError(`downloading ${what}`, lost ?? new Error('connection closed'));
      }
      return (await stat(file)).size;
    },
    ioError,
    async close() {
      if (closed) return;
      closed = true;
      closing = true;
      context.signal.removeEventListener('abort', onAbort);
      if (client.usable) await client.logout().catch(() => client.close());
      else client.close();
    },
  };
}
