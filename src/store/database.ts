import type { Pool, PoolClient } from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { quoteIdent, quoteTable, redactUrl, type SqlClient, type TableName } from '../core/sql.js';
import { classifyDatabaseError, shiftCopyLine } from '../core/database-errors.js';
import { formatDuration } from '../core/duration.js';
import { SluiceError } from '../core/errors.js';
import { createPglite } from './embedded-pglite.js';

/** The control-plane and target database: a PostgreSQL server through `pg`, or embedded PGlite. */
export interface Database extends SqlClient {
  readonly kind: 'postgres' | 'pglite';
  /** Where it is, safe to print (no password). */
  readonly location: string;
  /** Connections that can be in use at once (1 for the embedded database: one session, taken in turns). */
  readonly poolSize: number;
  /** Runs `work` in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
  /** Takes a session-level advisory lock on `key` without waiting; null when another session holds it. */
  tryLock(key: string): Promise<HeldLock | null>;
  /**
   * The embedded database only: a consistent copy of its whole data folder as a gzipped tar, taken between
   * transactions by the process that holds the folder's lock (what `sluice restore` reads back).
   */
  dumpDataDir?(): Promise<Blob>;
  /**
   * The embedded database only: statements typed by a person (`sluice sql`), one result per statement, every
   * value as PostgreSQL's text. `shared`: other processes use this session too, so statements that leave a
   * transaction open are rolled back and refused.
   */
  runStatements?(sql: string, options?: { shared?: boolean }): Promise<StatementResult[]>;
  close(): Promise<void>;
}

/** What one statement gave back: its columns and rows as PostgreSQL prints them, or its command tag. */
export interface StatementResult {
  /** Column names in order (repeats kept); empty for a statement that returns no rows (INSERT, CREATE…). */
  fields: { name: string; dataTypeID: number }[];
  /** Every value as PostgreSQL's text, or null. */
  rows: (string | null)[][];
  /** The command tag's verb (`SELECT`, `INSERT`, `CREATE`…), when the driver reports it. */
  command: string | null;
  rowCount: number | null;
}

export interface HeldLock {
  release(): Promise<void>;
}

function copySql(table: TableName, columns: readonly string[], from: string) {
  return `COPY ${quoteTable(table)} (${columns.map(quoteIdent).join(', ')}) FROM ${from}`;
}

export interface ConnectionOptions {
  /** Connections open at once at most; derive it from the work's concurrency (see `connectionsFor`). */
  poolSize?: number;
  /** How long a statement may wait for a free connection (or, embedded, for its turn) before it fails. */
  waitMs?: number;
}

/** Pool size for work running `lanes` pipelines at once: a transaction, the step log and a heartbeat each. */
export function connectionsFor(lanes: number): number {
  return Math.max(1, lanes) * 2 + 2;
}

const DEFAULT_POOL_SIZE = connectionsFor(2);
const DEFAULT_SERVER_WAIT_MS = 30_000;
// The embedded database runs one transaction at a time: a pipeline may wait for another's whole file load.
const DEFAULT_EMBEDDED_WAIT_MS = 10 * 60_000;

function waitedTooLong(location: string, waitMs: number, poolSize: number): SluiceError {
  return new SluiceError(
    'DATABASE_BUSY',
    `no connection to ${location} came free within ${formatDuration(waitMs)} (${poolSize} in use)`,
    {
      retryable: true,
      hint: 'Every connection is held by other work of this process: run fewer pipelines at once (--max-concurrent).',
    },
  );
}

// ---- PostgreSQL server --------------------------------------------------------------------------------

export async function openPostgres(url: string, options: ConnectionOptions = {}): Promise<Database> {
  const { default: pg } = await import('pg');
  // The module object, not its named exports: bundled (scripts/bundle-cli.mjs), a lazily imported CommonJS
  // package has only a default export.
  const { default: copyStreams } = await import('pg-copy-streams');
  // Keep dates and timestamps as PostgreSQL prints them: no time-zone shifts through JS Dates.
  const types = new pg.TypeOverrides();
  for (const oid of [1082, 1114, 1184]) types.setTypeParser(oid, (v: string) => v);
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  const waitMs = options.waitMs ?? DEFAULT_SERVER_WAIT_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: waitMs,
    types,
    application_name: 'sluice',
  });
  pool.on('error', () => {}); // an idle client dropped by the server is replaced on next use
  const location = redactUrl(url);
  // pg says "timeout exceeded when trying to connect" both for a full pool and for a server that does not
  // answer: tell them apart by whether the pool was full.
  const classify = (error: unknown) =>
    error instanceof Error &&
    /timeout exceeded when trying to connect/i.test(error.message) &&
    pool.totalCount >= poolSize
      ? waitedTooLong(location, waitMs, poolSize)
      : classifyDatabaseError(error, location);

  const clientApi = (client: Pool | PoolClient): SqlClient => ({
    dialect: 'postgres',
    async query(text, params) {
      try {
        const result = await client.query(text, params as unknown[] | undefined);
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      } catch (error) {
        throw classify(error);
      }
    },
    async exec(script) {
      try {
        await client.query(script);
      } catch (error) {
        throw classify(error);
      }
    },
    async copyFrom(table, columns, chunks) {
      const conn =
        'release' in client
          ? client
          : await (client as Pool).connect().catch((error: unknown) => {
              throw classify(error);
            });
      const ignore = () => undefined; // a lost connection fails the COPY below; see transaction
      if (conn !== client) conn.on('error', ignore);
      try {
        const stream = conn.query(copyStreams.from(copySql(table, columns, 'STDIN')));
        await pipeline(Readable.from(chunks), stream);
        return Number(stream.rowCount ?? 0);
      } catch (error) {
        throw classifyDatabaseError(error, location);
      } finally {
        if (conn !== client) {
          conn.off('error', ignore);
          (conn as PoolClient).release();
        }
      }
    },
  });

  const db: Database = {
    kind: 'postgres',
    location,
    poolSize,
    ...clientApi(pool),
    async transaction(work) {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw classify(error);
      }
      // A checked-out client that loses its connection emits 'error': without a listener that would end
      // the process. The failing query reports it; this only keeps it from being unhandled.
      let broken = false;
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(clientApi(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        throw classifyDatabaseError(error, location);
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async tryLock(key) {
      const client = await pool.connect().catch((error: unknown) => {
        throw classify(error);
      });
      // The lock lives as long as this connection; losing it must not end the process (see transaction).
      let lost = false;
      let released = false;
      client.on('error', () => {
        lost = true;
      });
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
        [key],
      );
      if (!rows[0]?.ok) {
        client.release();
        return null;
      }
      return {
        async release() {
          if (released) return; // a second release (a finally after an early one) is harmless
          released = true;
          if (!lost) {
            await client
              .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])
              .catch(() => undefined);
          }
          client.removeAllListeners('error');
          client.release(lost);
        },
      };
    },
    async close() {
      await pool.end();
    },
  };
  // Fail early and clearly when the server is not there.
  await db.query('SELECT 1');
  return db;
}

// ---- embedded PGlite ----------------------------------------------------------------------------------

/** PGlite reads COPY input from a blob held in memory: feed it slices this big so memory stays bounded. */
const PGLITE_COPY_SLICE_BYTES = 8 * 1024 * 1024;

export async function openPglite(dataDir: string, options: ConnectionOptions = {}): Promise<Database> {
  const { types } = await import('@electric-sql/pglite');
  const asText = (v: string) => v;
  const parsers = {
    [types.DATE]: asText,
    [types.TIMESTAMP]: asText,
    [types.TIMESTAMPTZ]: asText,
    [types.INT8]: asText,
  };
  const pglite = await createPglite(dataDir, { parsers });
  type Queryable = Pick<typeof pglite, 'query' | 'exec'>;
  const heldLocks = new Set<string>();
  const location = `embedded PostgreSQL (PGlite) in ${dataDir}`;
  // PGlite is one session: a statement outside a transaction waits until the open one ends. Waiting in our
  // own queue bounds that wait (PGlite's cannot be left), so a statement issued from inside a transaction
  // that waits for it fails clearly instead of hanging the run.
  const withTurn = createTurns(options.waitMs ?? DEFAULT_EMBEDDED_WAIT_MS, location);

  const clientApi = (target: Queryable): SqlClient => ({
    dialect: 'postgres',
    async query(text, params) {
      try {
        const result = await target.query<Record<string, unknown>>(text, params as unknown[] | undefined);
        // PGlite reports affectedRows 0 for a SELECT: count the rows it returned then.
        return { rows: result.rows as never[], rowCount: result.rows.length || (result.affectedRows ?? 0) };
      } catch (error) {
        throw classifyDatabaseError(error, location);
      }
    },
    async exec(script) {
      try {
        await target.exec(script);
      } catch (error) {
        throw classifyDatabaseError(error, location);
      }
    },
    async copyFrom(table, columns, chunks) {
      let parts: (string | Uint8Array)[] = [];
      let size = 0;
      let copied = 0;
      const flush = async () => {
        if (parts.length === 0) return;
        const blob = new Blob(parts);
        parts = [];
        size = 0;
        try {
          const result = await target.query(copySql(table, columns, `'/dev/blob'`), [], { blob });
          copied += result.affectedRows ?? 0;
        } catch (error) {
          // The slice's "line N" counts from its own first row: name the row of the whole COPY.
          throw classifyDatabaseError(shiftCopyLine(error, copied), location);
        }
      };
      for await (const chunk of chunks) {
        parts.push(chunk);
        size += chunk.length; // characters or bytes: either bounds the slice well enough
        if (size >= PGLITE_COPY_SLICE_BYTES) await flush();
      }
      await flush();
      return copied;
    },
  });

  const outside = clientApi(pglite);
  return {
    kind: 'pglite',
    dialect: 'postgres',
    location,
    poolSize: 1,
    query: (text, params) => withTurn(() => outside.query(text, params)),
    exec: (script) => withTurn(() => outside.exec(script)),
    copyFrom: (table, columns, chunks) => withTurn(() => outside.copyFrom(table, columns, chunks)),
    transaction(work) {
      return withTurn(async () => {
        try {
          return await pglite.transaction((tx) => work(clientApi(tx)));
        } catch (error) {
          throw classifyDatabaseError(error, location);
        }
      });
    },
    // One process owns the data folder (see pglite-lock.ts), so an in-process set is the whole lock.
    async tryLock(key) {
      if (heldLocks.has(key)) return null;
      heldLocks.add(key);
      return {
        async release() {
          heldLocks.delete(key);
        },
      };
    },
    dumpDataDir: () => withTurn(() => pglite.dumpDataDir('gzip')),
    runStatements: (sql, { shared = false } = {}) =>
      withTurn(async () => {
        let results;
        try {
          results = await pglite.exec(sql, { rowMode: 'array', parsers: allAsText() });
        } catch (error) {
          throw classifyDatabaseError(error, location);
        }
        if (shared && pglite.isInTransaction()) {
          await pglite.exec('ROLLBACK');
          throw new SluiceError('DATABASE_ERROR', 'a transaction left open was rolled back', {
            hint: 'The service shares this database while it runs: give BEGIN and COMMIT in one call of `sluice sql`.',
          });
        }
        return results.map((r) => ({
          fields: r.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
          rows: r.rows as unknown as (string | null)[][],
          command: r.command ?? null,
          rowCount: r.rowCount ?? null,
        }));
      }),
    async close() {
      await pglite.close();
    },
  };
}

/** PostgreSQL's own types have OIDs below 16384; types users create are sent as text already. */
const FIRST_USER_OID = 16384;
let textParsers: Record<number, (value: string) => string> | undefined;

/** Parsers that keep every value as PostgreSQL prints it: no numbers or dates that lose digits or zones. */
function allAsText() {
  textParsers ??= Object.fromEntries(
    Array.from({ length: FIRST_USER_OID }, (_, oid) => [oid, (v: string) => v]),
  );
  return textParsers;
}

/**
 * A queue of turns on one resource: `withTurn(work)` runs `work` once every earlier turn is over, or fails
 * with DATABASE_BUSY after `waitMs` without ever running it. A turn given up passes on to the next in line.
 */
function createTurns(waitMs: number, location: string) {
  let tail: Promise<void> = Promise.resolve();
  return async function withTurn<T>(work: () => Promise<T>): Promise<T> {
    const before = tail;
    let release!: () => void;
    tail = new Promise<void>((resolve) => (release = resolve));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), waitMs);
      timer.unref();
    });
    const outcome = await Promise.race([before.then(() => 'ready' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      void before.then(release);
      throw waitedTooLong(location, waitMs, 1);
    }
    try {
      return await work();
    } finally {
      release();
    }
  };
}
