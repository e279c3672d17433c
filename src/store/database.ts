import type { Pool, PoolClient } from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { quoteIdent, quoteTable, redactUrl, type SqlClient, type TableName } from '../core/sql.js';
import { classifyDatabaseError } from '../core/database-errors.js';

/** The control-plane and target database: a PostgreSQL server through `pg`, or embedded PGlite. */
export interface Database extends SqlClient {
  readonly kind: 'postgres' | 'pglite';
  /** Where it is, safe to print (no password). */
  readonly location: string;
  /** Runs `work` in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
  /** Takes a session-level advisory lock on `key` without waiting; null when another session holds it. */
  tryLock(key: string): Promise<HeldLock | null>;
  close(): Promise<void>;
}

export interface HeldLock {
  release(): Promise<void>;
}

function copySql(table: TableName, columns: readonly string[], from: string) {
  return `COPY ${quoteTable(table)} (${columns.map(quoteIdent).join(', ')}) FROM ${from}`;
}

// ---- PostgreSQL server --------------------------------------------------------------------------------

export async function openPostgres(url: string): Promise<Database> {
  const { default: pg } = await import('pg');
  const { from: copyFrom } = await import('pg-copy-streams');
  // Keep dates and timestamps as PostgreSQL prints them: no time-zone shifts through JS Dates.
  const types = new pg.TypeOverrides();
  for (const oid of [1082, 1114, 1184]) types.setTypeParser(oid, (v: string) => v);
  const pool = new pg.Pool({ connectionString: url, max: 6, types, application_name: 'sluice' });
  pool.on('error', () => {}); // an idle client dropped by the server is replaced on next use
  const location = redactUrl(url);

  const clientApi = (client: Pool | PoolClient): SqlClient => ({
    dialect: 'postgres',
    async query(text, params) {
      try {
        const result = await client.query(text, params as unknown[] | undefined);
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      } catch (error) {
        throw classifyDatabaseError(error, location);
      }
    },
    async exec(script) {
      try {
        await client.query(script);
      } catch (error) {
        throw classifyDatabaseError(error, location);
      }
    },
    async copyFrom(table, columns, chunks) {
      const conn = 'release' in client ? client : await (client as Pool).connect();
      const ignore = () => undefined; // a lost connection fails the COPY below; see transaction
      if (conn !== client) conn.on('error', ignore);
      try {
        const stream = conn.query(copyFrom(copySql(table, columns, 'STDIN')));
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
    ...clientApi(pool),
    async transaction(work) {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw classifyDatabaseError(error, location);
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
        throw classifyDatabaseError(error, location);
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

export async function openPglite(dataDir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { types } = await import('@electric-sql/pglite');
  const asText = (v: string) => v;
  const parsers = {
    [types.DATE]: asText,
    [types.TIMESTAMP]: asText,
    [types.TIMESTAMPTZ]: asText,
    [types.INT8]: asText,
  };
  const pglite = await PGlite.create(dataDir, { parsers });
  type Queryable = Pick<typeof pglite, 'query' | 'exec'>;
  const heldLocks = new Set<string>();
  const location = `embedded PostgreSQL (PGlite) in ${dataDir}`;

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
          throw classifyDatabaseError(error, location);
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

  return {
    kind: 'pglite',
    location,
    ...clientApi(pglite),
    async transaction(work) {
      try {
        return await pglite.transaction((tx) => work(clientApi(tx)));
      } catch (error) {
        throw classifyDatabaseError(error, location);
      }
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
    async close() {
      await pglite.close();
    },
  };
}
