import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SluiceError, type ErrorCode } from '../core/errors.js';

/**
 * The wire between the process that holds the embedded database and other Sluice processes of the same
 * user on the same machine (share-server.ts, share-client.ts): one JSON object per line over a Unix socket.
 * A request carries an `id`; the answer carries the same `id` and either `result` or `error`.
 */
export type Request =
  | { id: number; op: 'query'; tx?: number; text: string; params?: readonly unknown[] }
  | { id: number; op: 'exec'; tx?: number; script: string }
  | { id: number; op: 'copy'; tx?: number; table: { schema?: string; name: string }; columns: string[] }
  | { id: number; op: 'chunk'; data?: string | Uint8Array; end?: boolean }
  | { id: number; op: 'begin' }
  | { id: number; op: 'commit'; tx: number }
  | { id: number; op: 'rollback'; tx: number }
  | { id: number; op: 'lock'; key: string }
  | { id: number; op: 'unlock'; lock: number }
  | { id: number; op: 'dump' }
  | { id: number; op: 'statements'; sql: string };

/**
 * `pull`: a COPY in progress asks for its next chunk (answered by a `chunk` request with the same id).
 * `part`: a piece of a long answer (the data folder's copy), sent before its `result`.
 */
export type Reply =
  | { id: number; result: unknown }
  | { id: number; error: SharedError }
  | { id: number; pull: true }
  | { id: number; part: Uint8Array };

/** A SluiceError as it crosses the wire; `cause` keeps what callers read of a database error. */
export interface SharedError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  where?: string;
  hint?: string;
  cause?: Record<string, string>;
}

/** What the holder says of itself when a client connects. */
export interface Hello {
  pid: number;
  command: string;
  location: string;
  /** {@link SHARE_PROTOCOL} of the holder's Sluice. */
  protocol: number;
}

/** The version of these messages: raise it with any change a client of another version would misread. */
export const SHARE_PROTOCOL = 1;

// Unix socket paths are limited to ~107 bytes; a deep SLUICE_HOME gets a socket in the temporary folder.
const MAX_SOCKET_PATH = 100;

/** Where the holder of the embedded database in `home` listens (the same for every process). */
export function shareSocketPath(home: string): string {
  const digest = createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\sluice-${digest}`;
  const inHome = path.join(home, 'sluice.sock');
  return Buffer.byteLength(inHome) <= MAX_SOCKET_PATH
    ? inHome
    : path.join(os.tmpdir(), `sluice-${digest}.sock`);
}

/** Bytes and non-finite numbers do not survive JSON: they travel tagged. */
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key]; // before toJSON: a Buffer's would have turned it into an array of numbers
  if (original instanceof Uint8Array) return { $bytes: Buffer.from(original).toString('base64') };
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const tagged = value as { $bytes?: unknown; $number?: unknown };
    if (typeof tagged.$bytes === 'string' && Object.keys(value).length === 1) {
      return new Uint8Array(Buffer.from(tagged.$bytes, 'base64'));
    }
    if (typeof tagged.$number === 'string' && Object.keys(value).length === 1) return Number(tagged.$number);
  }
  return value;
}

/** Writes one message; resolves when the socket has taken it (so a sender cannot outrun the reader). */
export function send(socket: Socket, message: Request | Reply | { hello: Hello }): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    if (socket.write(`${JSON.stringify(message, replacer)}\n`)) resolve();
    else socket.once('drain', resolve).once('close', resolve);
  });
}

/** Calls `onMessage` for each line the socket brings; a line that is not JSON ends the connection. */
export function readMessages(socket: Socket, onMessage: (message: unknown) => void): void {
  socket.setEncoding('utf8');
  let pending = '';
  socket.on('data', (text: string) => {
    pending += text;
    let end: number;
    while ((end = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      let message: unknown;
      try {
        message = JSON.parse(line, reviver);
      } catch {
        socket.destroy();
        return;
      }
      onMessage(message);
    }
  });
}

const CAUSE_FIELDS = [
  'code',
  'message',
  'detail',
  'where',
  'position',
  'hint',
  'table',
  'column',
  'constraint',
];

export function toSharedError(error: unknown): SharedError {
  if (!(error instanceof SluiceError)) {
    return {
      code: 'INTERNAL',
      message: error instanceof Error ? error.message : String(error),
      retryable: false,
    };
  }
  const inner = error.cause as Record<string, unknown> | undefined;
  const cause: Record<string, string> = {};
  for (const field of CAUSE_FIELDS) {
    if (typeof inner?.[field] === 'string') cause[field] = inner[field];
  }
  return {
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    ...(error.where !== undefined ? { where: error.where } : {}),
    ...(error.hint !== undefined ? { hint: error.hint } : {}),
    ...(Object.keys(cause).length ? { cause } : {}),
  };
}

export function fromSharedError(shared: SharedError): SluiceError {
  const cause = shared.cause ? Object.assign(new Error(shared.cause.message ?? ''), shared.cause) : undefined;
  return new SluiceError(shared.code, shared.message, {
    retryable: shared.retryable,
    ...(shared.where !== undefined ? { where: shared.where } : {}),
    ...(shared.hint !== undefined ? { hint: shared.hint } : {}),
    ...(cause ? { cause } : {}),
  });
}
