import { classifyDatabaseError } from '../core/database-errors.js';
import { redactUrl } from '../core/sql.js';
import { openStore } from './connect.js';
import type { StatementResult } from './database.js';

export type { StatementResult } from './database.js';

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

/**
 * The embedded database, locked while open, or through the service that holds it (see openStore): there
 * a transaction cannot stay open between two calls, since the service's own statements would join it.
 */
async function openEmbedded(home: string): Promise<SqlConsole> {
  const db = await openStore({ home });
  return {
    location: db.location,
    run: (sql) => db.runStatements!(sql),
    close: () => db.close(),
  };
}
