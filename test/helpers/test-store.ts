import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { tempDir } from './pipeline-harness.js';
import { createTestDatabase } from './test-database.js';

/** A fresh control-plane database (a database of its own on the test server, or PGlite) and a Sluice home. */
export interface TestStore {
  db: Database;
  /** Sluice's folder (`SLUICE_HOME`) for runs and CLI calls of this store. */
  home: string;
  /** The server database's URL; undefined for the embedded database. */
  url: string | undefined;
  /** What a `sluice` child process needs to use this store: `DATABASE_URL` and `SLUICE_HOME`. */
  env: Record<string, string>;
  /** Closes the database and drops it (a server database). */
  close(): Promise<void>;
}

/**
 * The set-up most integration tests share: a fresh database of their own (PostgreSQL by default, or the
 * embedded PGlite), migrated, and a temporary home.
 */
export async function createTestStore(
  options: { kind?: 'postgres' | 'pglite'; prefix?: string } = {},
): Promise<TestStore> {
  const home = await tempDir(options.prefix ?? 'sluice-test-');
  const server = options.kind === 'pglite' ? undefined : await createTestDatabase();
  const db = await openStore({ home, ...(server ? { databaseUrl: server.url } : {}) });
  return {
    db,
    home,
    url: server?.url,
    env: { SLUICE_HOME: home, DATABASE_URL: server?.url ?? '' },
    async close() {
      await db.close();
      await server?.drop();
    },
  };
}
