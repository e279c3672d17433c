import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import type { PluginContext } from '../../src/core/plugin.js';
import { quoteIdent } from '../../src/core/sql.js';
import { postgresLoader } from '../../src/plugins/loaders/postgres/postgres-loader.js';
import { openPglite, openPostgres, type Database } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { loaderConformance, type LoaderTarget } from './loader-suite.js';

const context = (workDir: string): PluginContext => ({
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir,
});

// The embedded database and a real server: one code path for both.
describe.each(['pglite', 'postgres'] as const)('postgres loader on %s', (kind) => {
  let db: Database;
  let testDb: TestDatabase | undefined;
  let work: string;

  beforeAll(async () => {
    work = await tempDir();
    if (kind === 'postgres') {
      testDb = await createTestDatabase();
      db = await openPostgres(testDb.url);
    } else {
      db = await openPglite(path.join(work, 'pgdata'));
    }
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
    await testDb?.drop();
  });

  const target = (): LoaderTarget => ({
    open: async (options) => postgresLoader.open(postgresLoader.options.parse(options), context(work)),
    transaction: (work) => db.transaction(work),
    async rows(table) {
      const { rows } = await db.query(`SELECT * FROM ${quoteIdent(table)}`);
      return rows.map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)])),
      );
    },
    async columnTypes(table) {
      const { rows } = await db.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
        [table],
      );
      return Object.fromEntries(rows.map((r) => [r.column_name, r.data_type]));
    },
    exec: (sql) => db.exec(sql),
    identifierLimit: {
      max: postgresLoader.capabilities.maxIdentifierLength,
      unit: postgresLoader.capabilities.identifierLengthUnit ?? 'bytes',
    },
    types: { text: 'text', integer: 'integer', timestamp: 'timestamp without time zone' },
  });

  loaderConformance(target);
});
