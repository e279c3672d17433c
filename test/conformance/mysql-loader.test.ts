import { afterAll, beforeAll, describe } from 'vitest';
import type { PluginContext } from '../../src/core/plugin.js';
import { mysqlLoader } from '../../src/plugins/loaders/mysql/mysql-loader.js';
import { quoteMysqlIdent } from '../../src/connectors/mysql/mysql-ident.js';
import { openPostgres, type Database } from '../../src/store/database.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../helpers/test-mysql-database.js';
import { loaderConformance, type LoaderTarget } from './loader-suite.js';

const context = (workDir: string): PluginContext => ({
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir,
});

/** DATETIME(6) reads back with its microseconds: the suite compares seconds. */
const text = (v: unknown) =>
  v === null ? null : String(v).replace(/^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.0+$/, '$1');

// Both ways of writing rows pass the same suite; the control plane is a real PostgreSQL, as in a run.
describe.each(['loadData', 'insert'] as const)('mysql loader (method %s) on MariaDB', (method) => {
  let mysql: TestMysqlDatabase;
  let control: TestDatabase;
  let db: Database;
  let work: string;

  beforeAll(async () => {
    work = await tempDir();
    mysql = await createTestMysqlDatabase();
    control = await createTestDatabase();
    db = await openPostgres(control.url);
  });
  afterAll(async () => {
    await db.close();
    await control.drop();
    await mysql.drop();
  });

  const target = (): LoaderTarget => ({
    open: async (options) =>
      mysqlLoader.open(
        mysqlLoader.options.parse({ url: mysql.url, method, batchSize: 2, ...options }),
        context(work),
      ),
    transaction: (work) => db.transaction(work),
    async rows(table) {
      const rows = await mysql.query<Record<string, unknown>>(`SELECT * FROM ${quoteMysqlIdent(table)}`);
      return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, text(v)])));
    },
    async columnTypes(table) {
      const rows = await mysql.query<{ name: string; type: string }>(
        `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
        [table],
      );
      return Object.fromEntries(rows.map((r) => [r.name, r.type]));
    },
    exec: async (sql) => void (await mysql.query(sql)),
    identifierLimit: {
      max: mysqlLoader.capabilities.maxIdentifierLength,
      unit: mysqlLoader.capabilities.identifierLengthUnit ?? 'bytes',
    },
    types: { text: 'longtext', integer: 'int(11)', timestamp: 'datetime(6)' },
  });

  loaderConformance(target);
});
