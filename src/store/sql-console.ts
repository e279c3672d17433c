import path from 'node:path';
import { classifyDatabaseError } from '../core/database-errors.js';
import { redactUrl } from '../core/sql.js';
import { createPglite } from './embedded-pglite.js';
import { lockFolder } from './pglite-lock.js';

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

/** A session on Sluice's database for statements typed by a person (`sluice sql`). */
export interface SqlConsole {
  /** Where it is, safe to print. */
  readonly location: string;
  /** Runs one or more statements (one transaction unless they say otherwise); one result per statement. */
  run(sql: string): Promise<StatementResult[]>;
  close(): Promise<void>;
}

/** Opens the server named by `databaseUrl`, or the embedded database in `home` (locked while open). */
export async function openSqlConsole(options: { home: string; databaseUrl?: string }): Promise<SqlConsole> {
  return options.databaseUrl ? openServer(options.databaseUrl) : openEmbedded(options.home);
}

// Values are shown as the server prints them: no conversion to JavaScript numbers or dates, which would
// lose digits, microseconds and time zones.
const asText = (value: string) => value;

/** A driver's error as SluiceError DATABASE_ERROR, keeping the driver's error (and its position) as cause. */
function failure(error: unknown, location: string): unknown {
  return classifyDatabaseError(error, location);
}

async function openServer(url: string): Promise<SqlConsole> {
  const { default: pg } = await import('pg');
  const location = redactUrl(url);
  const client = new pg.Client({
    connectionString: url,
    application_name: 'sluice sql',
    types: { getTypeParser: () => asText } as never,
  });
  client.on('error', () => undefined); // a dropped connection fails the next statement instead
  try {
    await client.connect();
  } catch (error) {
    throw failure(error, location);
  }
  return {
    location,
    async run(sql) {
      try {
        const out = (await client.query({ text: sql, rowMode: 'array' })) as unknown;
        const results = (Array.isArray(out) ? out : [out]) as {
          fields: { name: string; dataTypeID: number }[];
          rows: (string | null)[][];
          command: string | null;
          rowCount: number | null;
        }[];
        return results.map((r) => ({
          fields: (r.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
          rows: r.rows,
          command: r.command ?? null,
          rowCount: r.rowCount ?? null,
        }));
      } catch (error) {
        throw failure(error, location);
      }
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

/** PostgreSQL's own types have OIDs below 16384; types users create are sent as text already. */
const FIRST_USER_OID = 16384;

async function openEmbedded(home: string): Promise<SqlConsole> {
  const dataDir = path.join(home, 'pgdata');
  const location = `embedded PostgreSQL (PGlite) in ${dataDir}`;
  const lock = await lockFolder(home);
  try {
    const parsers = Object.fromEntries(Array.from({ length: FIRST_USER_OID }, (_, oid) => [oid, asText]));
    const pglite = await createPglite(dataDir, { parsers });
    return {
      location,
      async run(sql) {
        try {
          const results = await pglite.exec(sql, { rowMode: 'array' });
          return results.map((r) => ({
            fields: r.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
            rows: r.rows as unknown as (string | null)[][],
            command: r.command ?? null,
            rowCount: r.rowCount ?? null,
          }));
        } catch (error) {
          throw failure(error, location);
        }
      },
      async close() {
        try {
          await pglite.close();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
