import { chmod, rm } from 'node:fs/promises';
import net, { type Socket } from 'node:net';
import { SluiceError } from '../core/errors.js';
import type { SqlClient, TableName } from '../core/sql.js';
import type { Database, HeldLock } from './database.js';
import {
  readMessages,
  send,
  SHARE_PROTOCOL,
  shareSocketPath,
  toSharedError,
  type Hello,
  type Request,
} from './share-protocol.js';

/** The socket through which the holder of the embedded database serves other Sluice processes. */
export interface StoreShare {
  readonly socketPath: string;
  close(): Promise<void>;
}

/**
 * Lets other Sluice processes of this user use the embedded database `db` while this process holds it
 * (PGlite is one process's: without this, `sluice runs` fails while `sluice serve` runs). Their statements
 * take turns with this process's own, as its own work does; their transactions, pipeline locks and COPYs
 * are theirs, ended when they disconnect. The socket is the user's only (mode 0600).
 */
export async function shareStore(db: Database, home: string, command: string): Promise<StoreShare> {
  const socketPath = shareSocketPath(home);
  const connections = new Set<Socket>();
  const hello: Hello = { pid: process.pid, command, location: db.location, protocol: SHARE_PROTOCOL };
  const server = net.createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.unref(); // serving others never keeps this process alive on its own
    serveConnection(socket, db);
    void send(socket, { hello });
  });
  // This process holds the folder's lock: a socket file there was left by a holder that is gone.
  if (process.platform !== 'win32') await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const umask = process.umask(0o177); // the socket file is created inside listen: rw for the user only
    try {
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  if (process.platform !== 'win32') await chmod(socketPath, 0o600);
  server.unref();
  return {
    socketPath,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of connections) socket.destroy();
      await closed;
      if (process.platform !== 'win32') await rm(socketPath, { force: true });
    },
  };
}

interface Session {
  client?: SqlClient;
  end: (how: 'commit' | 'rollback') => void;
  done: Promise<void>;
}

type Chunk = Extract<Request, { op: 'chunk' }> | { aborted: true };

/** A rollback the client asked for: thrown out of the transaction's work to end it. */
const ROLLBACK = new Error('rolled back by the client');

const abandoned = () => new SluiceError('LOAD_FAILED', 'the client abandoned its COPY input');

function serveConnection(socket: Socket, db: Database): void {
  const sessions = new Map<number, Session>();
  const locks = new Map<number, HeldLock>();
  const pulls = new Map<number, (chunk: Chunk) => void>();
  let nextHandle = 1;

  socket.on('error', () => undefined); // a client gone mid-answer: 'close' cleans up
  socket.on('close', () => {
    for (const session of sessions.values()) session.end('rollback');
    sessions.clear();
    for (const lock of locks.values()) void lock.release();
    locks.clear();
    for (const pull of pulls.values()) pull({ aborted: true });
  });

  readMessages(socket, (message) => {
    const request = message as Request;
    if (request.op === 'chunk') return pulls.get(request.id)?.(request);
    answer(request).then(
      (result) => send(socket, { id: request.id, result: result ?? null }),
      (error: unknown) => send(socket, { id: request.id, error: toSharedError(error) }),
    );
  });

  function target(tx: number | undefined): SqlClient {
    if (tx === undefined) return db;
    const client = sessions.get(tx)?.client;
    if (!client) throw new SluiceError('INTERNAL', `no open transaction ${tx} on this connection`);
    return client;
  }

  async function* pullChunks(id: number): AsyncGenerator<string | Uint8Array> {
    for (;;) {
      if (socket.destroyed) throw abandoned();
      const next = new Promise<Chunk>((resolve) => pulls.set(id, resolve));
      await send(socket, { id, pull: true });
      const chunk = await next;
      pulls.delete(id);
      if ('aborted' in chunk || chunk.data === undefined) {
        // Ending the input normally would keep a cut COPY: fail it instead.
        if ('aborted' in chunk || !chunk.end) throw abandoned();
        return;
      }
      yield chunk.data;
    }
  }

  function begin(): Promise<number> {
    const tx = nextHandle++;
    return new Promise<number>((resolve, reject) => {
      let end!: Session['end'];
      const ended = new Promise<'commit' | 'rollback'>((r) => (end = r));
      const session: Session = { end, done: Promise.resolve() };
      session.done = db.transaction(async (client) => {
        if (socket.destroyed) throw ROLLBACK; // the client left while waiting for its turn
        session.client = client;
        sessions.set(tx, session);
        resolve(tx);
        if ((await ended) === 'rollback') throw ROLLBACK;
      });
      session.done.catch(reject); // not begun (no turn in time): the caller hears why
    });
  }

  async function finish(tx: number, how: 'commit' | 'rollback'): Promise<void> {
    const session = sessions.get(tx);
    if (!session) throw new SluiceError('INTERNAL', `no open transaction ${tx} on this connection`);
    sessions.delete(tx);
    session.end(how);
    try {
      await session.done;
    } catch (error) {
      if (error !== ROLLBACK) throw error;
    }
  }

  async function answer(request: Exclude<Request, { op: 'chunk' }>): Promise<unknown> {
    switch (request.op) {
      case 'query':
        return target(request.tx).query(request.text, request.params);
      case 'exec':
        return target(request.tx).exec(request.script);
      case 'copy':
        return target(request.tx).copyFrom(
          request.table as TableName,
          request.columns,
          pullChunks(request.id),
        );
      case 'begin':
        return begin();
      case 'commit':
      case 'rollback':
        return finish(request.tx, request.op);
      case 'lock': {
        const held = await db.tryLock(request.key);
        if (!held) return null;
        if (socket.destroyed) return held.release();
        const handle = nextHandle++;
        locks.set(handle, held);
        return handle;
      }
      case 'unlock': {
        const held = locks.get(request.lock);
        locks.delete(request.lock);
        return held?.release();
      }
      case 'statements':
        if (!db.runStatements) throw new SluiceError('INTERNAL', 'this database has no SQL console');
        return db.runStatements(request.sql, { shared: true });
      case 'dump': {
        if (!db.dumpDataDir) throw new SluiceError('INTERNAL', 'this database has no data folder to copy');
        const copy = await db.dumpDataDir();
        for await (const part of copy.stream()) await send(socket, { id: request.id, part });
        return null;
      }
    }
  }
}
