import net, { type Socket } from 'node:net';
import { SluiceError } from '../core/errors.js';
import type { SqlClient } from '../core/sql.js';
import type { Database, StatementResult } from './database.js';
import {
  fromSharedError,
  readMessages,
  send,
  SHARE_PROTOCOL,
  shareSocketPath,
  type Hello,
  type Reply,
  type Request,
} from './share-protocol.js';

/**
 * How long to wait for the holder to say hello. It answers at once when idle, but PGlite runs on its main
 * thread: a long statement of its own (a big upsert) holds the answer back for seconds.
 */
const HELLO_TIMEOUT_MS = 60_000;

/** A request before `call` numbers it (Omit over each member of the union, not over the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Call = WithoutId<Request>;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  onPull?: (id: number) => void;
  parts?: Uint8Array[];
}

/**
 * The embedded database in `home` through the process that holds it (share-server.ts), or undefined when
 * no holder listens there (an older Sluice, a process that does not share, a stale socket).
 */
export async function connectShare(home: string): Promise<Database | undefined> {
  const socket = net.createConnection(shareSocketPath(home));
  let onMessage: (message: unknown) => void = () => undefined;
  readMessages(socket, (message) => onMessage(message));
  const hello = await new Promise<Hello | undefined>((resolve) => {
    const fail = () => done(undefined);
    const timer = setTimeout(fail, HELLO_TIMEOUT_MS);
    const done = (value: Hello | undefined) => {
      clearTimeout(timer);
      socket.off('error', fail).off('close', fail);
      resolve(value);
    };
    socket.once('error', fail).once('close', fail);
    onMessage = (message) => {
      const h = (message as { hello?: Hello }).hello;
      done(h && typeof h.pid === 'number' ? h : undefined);
    };
  });
  if (!hello) {
    socket.destroy();
    return undefined;
  }
  if (hello.protocol !== SHARE_PROTOCOL) {
    socket.destroy();
    throw new SluiceError(
      'DATABASE_LOCKED',
      `the embedded database in ${home} is held by process ${hello.pid} (${hello.command}) of another Sluice version, which this one cannot work through`,
      { hint: 'Run the same version of Sluice as the service, or stop the service first.' },
    );
  }
  const db = sharedDatabase(socket, hello);
  onMessage = (message) => db.onReply(message as Reply);
  return db;
}

function sharedDatabase(socket: Socket, hello: Hello): Database & { onReply(reply: Reply): void } {
  const location = `${hello.location}, through process ${hello.pid} (${hello.command}) that holds it`;
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let lost: SluiceError | undefined;

  const onReply = (reply: Reply) => {
    const waiting = pending.get(reply.id);
    if (!waiting) return;
    if ('pull' in reply) return waiting.onPull?.(reply.id);
    if ('part' in reply) return void waiting.parts?.push(reply.part);
    pending.delete(reply.id);
    if ('error' in reply) waiting.reject(fromSharedError(reply.error));
    else waiting.resolve(reply.result);
  };
  socket.on('error', () => undefined); // 'close' follows and says it
  socket.on('close', () => {
    lost = new SluiceError(
      'DATABASE_UNREACHABLE',
      `lost the embedded database: process ${hello.pid} (${hello.command}) that holds it closed it`,
      { retryable: true },
    );
    for (const waiting of pending.values()) waiting.reject(lost);
    pending.clear();
  });

  function call(request: Call, extra: Pick<Pending, 'onPull' | 'parts'> = {}): Promise<unknown> {
    if (lost) return Promise.reject(lost);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, ...extra });
      void send(socket, { ...request, id } as Request);
    });
  }

  const clientApi = (tx?: number): SqlClient => ({
    dialect: 'postgres',
    async query(text, params) {
      return (await call({ op: 'query', text, ...(params ? { params } : {}), ...inTx(tx) })) as never;
    },
    async exec(script) {
      await call({ op: 'exec', script, ...inTx(tx) });
    },
    async copyFrom(table, columns, chunks) {
      // The holder pulls each chunk when its COPY is ready for it: memory stays bounded on both sides.
      const source = chunks[Symbol.asyncIterator]();
      let sourceError: unknown;
      const pull = async (id: number) => {
        try {
          const next = await source.next();
          await send(
            socket,
            next.done ? { id, op: 'chunk', end: true } : { id, op: 'chunk', data: next.value },
          );
        } catch (error) {
          sourceError = error;
          await send(socket, { id, op: 'chunk' }); // neither data nor end: the holder fails the COPY
        }
      };
      try {
        return (await call(
          { op: 'copy', table, columns: [...columns], ...inTx(tx) },
          { onPull: pull },
        )) as number;
      } catch (error) {
        throw sourceError ?? error;
      }
    },
  });

  return {
    onReply,
    kind: 'pglite',
    location,
    poolSize: 1,
    ...clientApi(),
    async transaction(work) {
      const tx = (await call({ op: 'begin' })) as number;
      let result;
      try {
        result = await work(clientApi(tx));
      } catch (error) {
        await call({ op: 'rollback', tx }).catch(() => undefined);
        throw error;
      }
      await call({ op: 'commit', tx });
      return result;
    },
    async tryLock(key) {
      const handle = (await call({ op: 'lock', key })) as number | null;
      if (handle === null) return null;
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await call({ op: 'unlock', lock: handle }).catch(() => undefined); // gone: the holder let it go
        },
      };
    },
    async runStatements(sql) {
      return (await call({ op: 'statements', sql })) as StatementResult[];
    },
    async dumpDataDir() {
      const parts: Uint8Array[] = [];
      await call({ op: 'dump' }, { parts });
      return new Blob(parts);
    },
    async close() {
      if (socket.destroyed) return;
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.end();
      await closed;
    },
  };
}

const inTx = (tx: number | undefined) => (tx === undefined ? {} : { tx });
