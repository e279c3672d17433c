import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadSession, PluginContext } from '../../src/core/plugin.js';
import type { RecordBatch } from '../../src/core/records.js';
import { postgresLoader } from '../../src/plugins/loaders/postgres/postgres-loader.js';
import { openPglite, openPostgres, type Database } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const context = (workDir: string): PluginContext => ({
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir,
});

async function* batches(...list: RecordBatch[]) {
  yield* list;
}

const batch = (
  columns: { name: string; type?: 'text' | 'integer' | 'timestamp' | 'numeric' }[],
  rows: (string | null)[][],
): RecordBatch => ({
  columns,
  rows,
  origin: 'test.csv',
  lines: rows.map((_, i) => i + 2),
});

const unit = (firstOfRun = true) => ({
  runId: '00000000-0000-0000-0000-000000000001',
  asOf: '2026-11-27',
  origin: 'test.csv',
  firstOfRun,
});

// The same suite on the embedded database and on a real server: one code path for both.
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

  const open = async (options: Record<string, unknown>): Promise<LoadSession> =>
    postgresLoader.open(postgresLoader.options.parse(options), context(work));
  const load = (session: LoadSession, b: RecordBatch, first = true) =>
    db.transaction(async (tx) => {
      const u = unit(first);
      const result = await session.load(tx, batches(b), u);
      await session.afterLoad(tx, u);
      return result;
    });

  it('creates a missing table with the types the checks gave, and appends', async () => {
    const session = await open({ table: 'app.events', mode: 'append' });
    const cols = [
      { name: 'Event Name' },
      { name: 'count', type: 'integer' as const },
      { name: 'at', type: 'timestamp' as const },
    ];
    await load(
      session,
      batch(cols, [
        ['a\tb\\c', '1', '2026-11-01 10:00:00'],
        ['line\nbreak', null, null],
      ]),
    );
    await load(session, batch(cols, [['x', '2', '2026-11-02 10:00:00']]));
    const { rows } = await db.query('SELECT event_name, count, at FROM app.events ORDER BY at NULLS LAST');
    expect(rows).toEqual([
      { event_name: 'a\tb\\c', count: 1, at: '2026-11-01 10:00:00' },
      { event_name: 'x', count: 2, at: '2026-11-02 10:00:00' },
      { event_name: 'line\nbreak', count: null, at: null },
    ]);
    const types = await db.query(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'events' ORDER BY ordinal_position`,
    );
    expect(types.rows).toEqual([
      { column_name: 'event_name', data_type: 'text' },
      { column_name: 'count', data_type: 'integer' },
      { column_name: 'at', data_type: 'timestamp without time zone' },
    ]);
  });

  it('replace empties the table on the first load of a run only, and at the end of a run that loaded nothing', async () => {
    const session = await open({ table: 'snap', mode: 'replace' });
    const cols = [{ name: 'v' }];
    await load(session, batch(cols, [['old']]));
    await load(session, batch(cols, [['new1']]), true);
    await load(session, batch(cols, [['new2']]), false);
    expect((await db.query('SELECT v FROM snap ORDER BY v')).rows).toEqual([{ v: 'new1' }, { v: 'new2' }]);
    await db.transaction((tx) => session.finishRun(tx, { runId: 'x', asOf: '2026-11-27', loadedAny: false }));
    expect((await db.query('SELECT count(*)::int AS n FROM snap')).rows).toEqual([{ n: 0 }]);
  });

  it('merge upserts on keys; the last of duplicate keys in one load wins; unchanged rows stay', async () => {
    const session = await open({ table: 'people', mode: 'merge', keys: ['id'] });
    const cols = [{ name: 'id', type: 'integer' as const }, { name: 'name' }];
    await load(
      session,
      batch(cols, [
        ['1', 'ann'],
        ['2', 'bob'],
      ]),
    );
    await load(
      session,
      batch(cols, [
        ['2', 'bobby'],
        ['3', 'cy'],
        ['2', 'robert'],
        ['1', 'ann'],
      ]),
    );
    expect((await db.query('SELECT id, name FROM people ORDER BY id')).rows).toEqual([
      { id: 1, name: 'ann' },
      { id: 2, name: 'robert' },
      { id: 3, name: 'cy' },
    ]);
  });

  it('quotes hostile identifiers', async () => {
    const session = await open({ table: 'x"; DROP TABLE people; --', mode: 'append', columnNames: 'keep' });
    await load(session, batch([{ name: 'select' }, { name: 'a"b' }], [['1', '2']]));
    expect((await db.query('SELECT "select", "a""b" FROM "x""; DROP TABLE people; --"')).rows).toEqual([
      { select: '1', 'a"b': '2' },
    ]);
    expect((await db.query('SELECT count(*)::int AS n FROM people')).rows).toEqual([{ n: 3 }]);
  });

  it('refuses rows for columns the table does not have, naming them', async () => {
    await db.query('CREATE TABLE fixed (a text)');
    const session = await open({ table: 'fixed', createTable: false });
    await expect(load(session, batch([{ name: 'a' }, { name: 'b' }], [['1', '2']]))).rejects.toThrow(
      /no column "b"/,
    );
  });

  it('runs SQL after the load in the same transaction, with the staged rows and the load context', async () => {
    const session = await open({
      table: 'src_rows',
      afterLoad: `CREATE TABLE IF NOT EXISTS derived (n int, run uuid, as_of date);
                  INSERT INTO derived SELECT count(*), sluice.run_id(), sluice.as_of() FROM staged`,
    });
    await db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('sluice.run_id', $1, true), set_config('sluice.as_of', $2, true)`, [
        unit().runId,
        '2026-11-27',
      ]);
      const u = unit();
      await session.load(tx, batches(batch([{ name: 'v' }], [['a'], ['b']])), u);
      await session.afterLoad(tx, u);
    });
    expect((await db.query('SELECT n, run, as_of FROM derived')).rows).toEqual([
      { n: 2, run: unit().runId, as_of: '2026-11-27' },
    ]);
    // A failing step rolls the rows back with it.
    const failing = await open({ table: 'src_rows', afterLoad: 'SELECT 1/0' });
    await expect(load(failing, batch([{ name: 'v' }], [['c']]))).rejects.toThrow(/division by zero/);
    expect((await db.query('SELECT count(*)::int AS n FROM src_rows')).rows).toEqual([{ n: 2 }]);
  });
});
