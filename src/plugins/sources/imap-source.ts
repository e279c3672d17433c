import { createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FetchMessageObject, ImapFlow, MessageStructureObject } from 'imapflow';
import { z } from 'zod';
import { SluiceError, errorMessage } from '../../core/errors.js';
import { defineSource, type FileOutcome, type SourceFile } from '../../core/plugin.js';
import { MAX_FILE_NAME_BYTES, safeFileName, uniqueFileName } from './safe-file-name.js';

/** A regular expression given as text; checked when the config is read, so a bad one fails early. */
const regex = (what: string) =>
  z
    .string()
    .min(1)
    .refine(
      (text) => {
        try {
          new RegExp(text, 'iu');
          return true;
        } catch {
          return false;
        }
      },
      { message: 'not a valid regular expression' },
    )
    .describe(`${what}, as a regular expression matched case-insensitively (anywhere unless anchored).`);

const rule = z.strictObject({
  name: z.string().min(1).describe('The rule name, for logs.'),
  subject: regex('What the subject must match').optional(),
  sender: regex('What the sender (`Name <address>` of From) must match').optional(),
  hasAttachment: z
    .boolean()
    .optional()
    .describe('true: the message must have an attachment; false: it must have none.'),
  attachment: regex(
    'What an attachment name must match; only matching attachments become files, and a message ' +
      'with none does not match the rule',
  ).optional(),
  priority: z
    .number()
    .int()
    .default(100)
    .describe('Rules are tried by priority, lowest first (ties in the order written); the first match wins.'),
});

const options = z
  .strictObject({
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
    password: z.string().describe('Password (secret: take it from the environment, ${IMAP_PASSWORD}).'),
    tls: z
      .boolean()
      .optional()
      .describe('Implicit TLS from the first byte (port 993); true by default for imaps:// URLs.'),
    starttls: z
      .boolean()
      .default(false)
      .describe('Require STARTTLS before the login on a plain connection (refuse a server without it).'),
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
    rules: z.array(rule).min(1).describe('Which messages to take and which attachments become files.'),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe('How long to wait for the connection, the login and each server answer, in milliseconds.'),
  })
  .superRefine((o, ctx) => {
    if (o.url === undefined && o.host === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'give source.url (imap://user@host:port/INBOX), or source.host',
      });
      return;
    }
    try {
      const target = resolveTarget(o);
      if (!target.username)
        ctx.addIssue({
          code: 'custom',
          message: 'give the login name, as source.username or in source.url (imap://user@host/INBOX)',
        });
    } catch (error) {
      // Reported on the section, not on `url`, so a password put there by mistake is not echoed.
      ctx.addIssue({ code: 'custom', message: errorMessage(error) });
    }
  });

type Options = z.output<typeof options>;
type Rule = z.output<typeof rule>;

interface Target {
  host: string;
  port: number;
  username: string;
  mailbox: string;
  tls: boolean;
}

function resolveTarget(o: Pick<Options, 'url' | 'host' | 'port' | 'username' | 'mailbox' | 'tls'>): Target {
  let fromUrl: Partial<Target> = {};
  if (o.url !== undefined) {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new Error('source.url is not a valid URL; expected imap://user@host:port/INBOX');
    }
    if (url.protocol !== 'imap:' && url.protocol !== 'imaps:')
      throw new Error(`source.url must start with imap:// or imaps:// (not ${url.protocol}//)`);
    if (url.password) throw new Error('do not put the password in source.url: give it as source.password');
    if (url.search || url.hash) throw new Error('source.url must not have a query (?) or a fragment (#)');
    const mailbox = decodeURIComponent(url.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
    fromUrl = {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1') || undefined,
      port: url.port ? Number(url.port) : undefined,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      mailbox: mailbox || undefined,
      tls: url.protocol === 'imaps:',
    };
  }
  const host = o.host ?? fromUrl.host;
  if (!host) throw new Error('source.url has no host, and source.host is not given');
  const tls = o.tls ?? fromUrl.tls ?? false;
  return {
    host,
    port: o.port ?? fromUrl.port ?? (tls ? 993 : 143),
    username: o.username ?? fromUrl.username ?? '',
    mailbox: o.mailbox ?? fromUrl.mailbox ?? 'INBOX',
    tls,
  };
}

/** An attachment of a message, as the body structure describes it. */
interface Attachment {
  part: string;
  filename: string;
  type: string;
  /** Transfer encoding (`base64`, `quoted-printable`, `7bit`...). */
  encoding: string;
  /** Size on the wire, before the transfer encoding is undone. */
  encodedSize: number;
}

/** Leaf parts with a file name or an `attachment` disposition; an attached message counts as one file. */
function attachmentsOf(node: MessageStructureObject | undefined, out: Attachment[] = []): Attachment[] {
  if (!node) return out;
  const type = node.type.toLowerCase();
  const filename = node.dispositionParameters?.filename ?? node.parameters?.name;
  const isMessage = type === 'message/rfc822';
  if (node.childNodes?.length && !isMessage) {
    for (const child of node.childNodes) attachmentsOf(child, out);
    return out;
  }
  if (node.part && (node.disposition?.toLowerCase() === 'attachment' || filename !== undefined)) {
    out.push({
      part: node.part,
      filename: filename ?? '',
      type,
      encoding: (node.encoding ?? '7bit').toLowerCase(),
      encodedSize: node.size ?? 0,
    });
  }
  return out;
}

function senderOf(message: FetchMessageObject): string {
  return (message.envelope?.from ?? [])
    .map((a) => (a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? '')))
    .join(', ');
}

interface CompiledRule {
  rule: Rule;
  subject?: RegExp;
  sender?: RegExp;
  attachment?: RegExp;
}

/** The first rule (by priority) the message matches, and the attachments it takes. */
function matchRule(
  rules: CompiledRule[],
  message: FetchMessageObject,
  attachments: Attachment[],
): { rule: Rule; files: Attachment[] } | undefined {
  const subject = message.envelope?.subject ?? '';
  const sender = senderOf(message);
  for (const r of rules) {
    if (r.subject && !r.subject.test(subject)) continue;
    if (r.sender && !r.sender.test(sender)) continue;
    if (r.rule.hasAttachment !== undefined && r.rule.hasAttachment !== attachments.length > 0) continue;
    const files = r.attachment ? attachments.filter((a) => r.attachment?.test(a.filename)) : attachments;
    if (r.attachment && files.length === 0) continue;
    return { rule: r.rule, files };
  }
  return undefined;
}

/** `yyyyMMdd` of the date the message was sent (UTC), or of its arrival when it has no Date header. */
function datePrefix(message: FetchMessageObject): string {
  const raw = message.envelope?.date ?? message.internalDate;
  const date = raw === undefined ? new Date(NaN) : new Date(raw);
  const valid = Number.isNaN(date.getTime()) ? new Date(0) : date;
  return valid.toISOString().slice(0, 10).replace(/-/g, '');
}

/** The decoded size an attachment can have, from its size on the wire: a check that it arrived whole. */
function decodedSizeRange(a: Attachment): [number, number] {
  switch (a.encoding) {
    case 'base64': {
      // Every 4 characters give 3 bytes; line breaks (CRLF every 76 characters or more) carry none.
      const max = Math.floor((a.encodedSize * 3) / 4);
      const min = Math.floor(((a.encodedSize * 76) / 78) * 0.75) - 3;
      return [Math.max(0, min), max];
    }
    case 'quoted-printable':
      return [Math.floor(a.encodedSize / 3), a.encodedSize];
    default:
      return [a.encodedSize, a.encodedSize];
  }
}

interface ImapError extends Error {
  code?: string;
  authenticationFailed?: boolean;
  responseText?: string;
  serverResponseCode?: string;
}

/** Attachments of messages in an IMAP mailbox, chosen by rules; settled messages move to a folder. */
export const imapSource = defineSource({
  name: 'imap',
  summary: 'Attachments of mail in an IMAP mailbox chosen by rules; handled mail moves to Processed.',
  schemes: ['imap', 'imaps'],
  options,
  async open(opts, context) {
    const { host, port, username, mailbox, tls } = resolveTarget(opts);
    const hostPart = host.includes(':') ? `[${host}]` : host;
    const location = `${tls ? 'imaps' : 'imap'}://${encodeURIComponent(username)}@${hostPart}:${port}/${encodeURIComponent(mailbox)}`;
    const rules: CompiledRule[] = opts.rules
      .map((r, index) => ({ r, index }))
      .sort((a, b) => a.r.priority - b.r.priority || a.index - b.index)
      .map(({ r }) => ({
        rule: r,
        ...(r.subject !== undefined ? { subject: new RegExp(r.subject, 'iu') } : {}),
        ...(r.sender !== undefined ? { sender: new RegExp(r.sender, 'iu') } : {}),
        ...(r.attachment !== undefined ? { attachment: new RegExp(r.attachment, 'iu') } : {}),
      }));

    const secret = opts.password;
    const redact = (text: string) => (secret.length >= 4 ? text.split(secret).join('***') : text);
    const describe = (error: unknown) => {
      const e = error as ImapError | undefined;
      return redact(e?.responseText ?? errorMessage(error));
    };

    if (context.signal.aborted) throw new SluiceError('ABORTED', `aborted before connecting to ${location}`);

    // Heavy: loaded only when an imap source is used.
    const { ImapFlow } = await import('imapflow');
    const client: ImapFlow = new ImapFlow({
      host,
      port,
      secure: tls,
      doSTARTTLS: opts.starttls ? true : tls ? undefined : false,
      auth: { user: username, pass: opts.password },
      // SNI takes names only (RFC 6066): Node warns when given an address.
      tls: { rejectUnauthorized: !opts.allowSelfSigned, ...(isIP(host) ? {} : { servername: host }) },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: opts.timeoutMs,
      greetingTimeout: opts.timeoutMs,
      socketTimeout: Math.max(opts.timeoutMs, 60_000),
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
        return new SluiceError('SOURCE_AUTH', `${location} refused the login of ${username} (${message})`, {
          cause: error,
          where: 'source',
          hint: 'Check source.username and source.password.',
        });
      }
      if (/certificate|self[- ]signed|tls|ssl/i.test(message) && !/ECONNREFUSED/.test(e?.code ?? '')) {
        return new SluiceError(
          'SOURCE_AUTH',
          `the TLS connection to ${hostPart}:${port} failed: ${message}`,
          {
            cause: error,
            where: 'source',
            hint: 'Check source.tls and source.starttls; allowSelfSigned accepts an unverified certificate (tests only).',
          },
        );
      }
      const what = e?.code === 'ECONNREFUSED' ? 'refused the connection' : 'cannot be reached';
      return new SluiceError(
        'SOURCE_UNREACHABLE',
        `the IMAP server ${hostPart}:${port} ${what} (${message})`,
        {
          cause: error,
          retryable: true,
          hint: 'Check source.host and source.port (or the url), and that the server is up.',
        },
      );
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

    /** Moves messages (by UID) out of the scanned mailbox; the caller holds the mailbox lock. */
    async function move(uids: number[], destination: string) {
      await ensureMailbox(destination);
      // The lock was taken before the mailbox was created: mailboxCreate does not change the selection.
      const result = await client.messageMove(uids.join(','), destination, { uid: true });
      if (result === false) throw new Error(`the server did not move message(s) ${uids.join(',')}`);
    }

    interface Listed {
      uid: number;
      attachment: Attachment;
    }
    /** The files of the latest listing, by id; and per message UID the ids not settled yet. */
    const listed = new Map<string, Listed>();
    const pending = new Map<number, Set<string>>();

    await withMailbox(`opening ${mailbox}`, async () => Promise.resolve());
    context.logger.info(`connected to ${location}`);

    let closed = false;
    return {
      location,
      async *list() {
        listed.clear();
        pending.clear();
        const files: SourceFile[] = [];
        await withMailbox(`listing ${mailbox}`, async () => {
          const box = client.mailbox;
          const exists = box === false ? 0 : box.exists;
          if (exists === 0) return;
          const messages = await client.fetchAll(
            '1:*',
            { uid: true, envelope: true, bodyStructure: true, internalDate: true },
            { uid: false },
          );
          messages.sort((a, b) => a.uid - b.uid);
          const unmatched: number[] = [];
          const nothingToLoad: number[] = [];
          const taken = new Set<string>();
          for (const message of messages) {
            const match = matchRule(rules, message, attachmentsOf(message.bodyStructure));
            if (!match) {
              unmatched.push(message.uid);
              continue;
            }
            context.logger.debug(`message ${message.uid} matches rule ${match.rule.name}`, {
              files: match.files.length,
            });
            if (match.files.length === 0) {
              nothingToLoad.push(message.uid);
              continue;
            }
            const ids = new Set<string>();
            const prefix = datePrefix(message);
            for (const attachment of match.files) {
              const id = `${message.uid}/${attachment.part}`;
              // The whole name, date included, stays within the bound.
              const safe = safeFileName(attachment.filename, MAX_FILE_NAME_BYTES - prefix.length - 1);
              const name = uniqueFileName(`${prefix}_${safe}`, taken);
              listed.set(id, { uid: message.uid, attachment });
              ids.add(id);
              files.push({ id, name, size: attachment.encodedSize });
            }
            pending.set(message.uid, ids);
          }
          if (unmatched.length) {
            await move(unmatched, opts.errorMailbox);
            context.logger.info(
              `moved ${unmatched.length} message(s) that match no rule to ${opts.errorMailbox}`,
              { uids: unmatched },
            );
          }
          if (nothingToLoad.length) {
            // A rule took them (hasAttachment: false), but they carry no file to wait for.
            await move(nothingToLoad, opts.processedMailbox);
            context.logger.info(
              `moved ${nothingToLoad.length} matching message(s) without files to ${opts.processedMailbox}`,
            );
          }
        });
        yield* files;
      },
      async fetch(file) {
        const entry = listed.get(file.id);
        if (!entry) {
          throw new SluiceError('SOURCE_IO', `${file.id} was not listed in this session`, {
            where: location,
          });
        }
        const folder = await mkdtemp(path.join(context.workDir, 'imap-'));
        const local = path.join(folder, path.basename(file.name));
        const part = `${local}.part`;
        try {
          await withMailbox(`downloading ${file.id}`, async () => {
            const download = await client.download(String(entry.uid), entry.attachment.part, { uid: true });
            if (!download.content) {
              throw new SluiceError('SOURCE_IO', `message ${entry.uid} is no longer in ${mailbox}`, {
                where: location,
                retryable: false,
              });
            }
            await pipeline(download.content, createWriteStream(part));
          });
          // A dropped connection may end the stream early instead of failing it.
          if (lost !== undefined || !client.usable) {
            throw ioError(`downloading ${file.id}`, lost ?? new Error('connection closed'));
          }
          const size = (await stat(part)).size;
          const [min, max] = decodedSizeRange(entry.attachment);
          if (size < min || size > max) {
            throw new SluiceError(
              'SOURCE_IO',
              `${file.name} arrived incomplete: ${size} bytes, expected ${min === max ? min : `${min}-${max}`}`,
              { retryable: true, where: file.id },
            );
          }
          await rename(part, local);
          return { path: local, size, temporary: true };
        } catch (error) {
          await rm(folder, { recursive: true, force: true });
          throw ioError(`downloading ${file.id}`, error);
        }
      },
      async settle(file: SourceFile, outcome: FileOutcome) {
        const entry = listed.get(file.id);
        const waiting = entry && pending.get(entry.uid);
        if (!entry || !waiting) return;
        waiting.delete(file.id);
        context.logger.debug(`${file.name} is settled (${outcome})`, { waiting: waiting.size });
        if (waiting.size > 0) return;
        await withMailbox(`moving message ${entry.uid} to ${opts.processedMailbox}`, () =>
          move([entry.uid], opts.processedMailbox),
        );
        pending.delete(entry.uid);
        context.logger.debug(`moved message ${entry.uid} to ${opts.processedMailbox}`);
      },
      async close() {
        if (closed) return;
        closed = true;
        closing = true;
        context.signal.removeEventListener('abort', onAbort);
        if (client.usable) await client.logout().catch(() => client.close());
        else client.close();
      },
    };
  },
});
