import path from 'node:path';
import pg from 'pg';
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

/** Key 7 twice, the last row to win, and key 8 once. */
const keySevenTwice = (columns: Parameters<typeof batch>[0]) =>
  batch(columns, [
    ['7', 'first'],
    ['8', 'eight'],
    ['7', 'last'],
  ]);

const unit = (firstOfRun = true, key = 'test.csv') => ({
  runId: '00000000-0000-0000-0000-000000000001',
  asOf: '2026-11-27',
  origin: 'test.csv',
  key,
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

  // Append, replace, merge, hostile names and retries: test/conformance/loader-suite.ts.
  it('merges rows a source says are unique into an empty table by COPY, falling back to the staged merge when a key repeats after all', async () => {
    const cols = [{ name: 'id', type: 'integer' as const }, { name: 'name' }];
    const many = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => [String(from + i), `n${from + i}`]);
    // No repeated key: straight in.
    const clean = await open({ table: 'fresh_clean', mode: 'merge', keys: ['id'] });
    const straight = await db.transaction((tx) =>
      clean.load(tx, batches(batch(cols, many(1, 500)), batch(cols, many(501, 500))), {
        ...unit(),
        uniqueBy: ['id'],
      }),
    );
    expect(straight.rowsLoaded).toBe(1000);
    // A key repeated early, with many batches after it: the COPY fails on the repeat, the savepoint rolls
    // back, the rest is spooled and the staged merge keeps the last row of the key.
    const dupes = await open({ table: 'fresh_dupes', mode: 'merge', keys: ['id'] });
    const rest = Array.from({ length: 40 }, (_, b) => batch(cols, many(1000 + b * 250, 250)));
    const merged = await db.transaction((tx) =>
      dupes.load(tx, batches(keySevenTwice(cols), ...rest), unit()),
    );
    expect(merged.rowsLoaded).toBe(3 + 40 * 250);
    const { rows } = await db.query<{ n: number; name: string }>(
      `SELECT (SELECT count(*)::int FROM fresh_dupes) AS n, (SELECT name FROM fresh_dupes WHERE id = 7) AS name`,
    );
    expect(rows[0]).toEqual({ n: 2 + 40 * 250, name: 'last' });
  });

  it('creates the schema of a schema-qualified table, with the types the checks gave', async () => {
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
  const columnTypes = async (name: string) =>
    Object.fromEntries(
      (
        await db.query<{ column_name: string; data_type: string }>(
          `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
          [name],
        )
      ).rows.map((r) => [r.column_name, r.data_type]),
    );

  it('schema evolve infers the types of a new table: boolean, date, timestamp, bigint, integer, numeric, text', async () => {
    const session = await open({ table: 'inferred', schema: 'evolve' });
    const cols = ['flag', 'day', 'at', 'big', 'n', 'amount', 'label', 'empty', 'checked'].map((name) => ({
      name,
      ...(name === 'checked' ? { type: 'text' as const } : {}),
    }));
    await load(
      session,
      batch(cols, [
        ['true', '2026-11-01', '2026-11-01 10:00', '3000000000', '7', '1.5', 'x', null, '1'],
        ['FALSE', '2026-11-02', '2026-11-02T11:30:05.250', '-1', null, '2', '3', null, '2'],
      ]),
    );
    expect(await columnTypes('inferred')).toEqual({
      flag: 'boolean',
      day: 'date',
      at: 'timestamp without time zone',
      big: 'bigint',
      n: 'integer',
      amount: 'numeric',
      label: 'text',
      empty: 'text',
      checked: 'text',
    });
    expect(
      (await db.query('SELECT flag, day, at, big::text, n, amount::text FROM inferred ORDER BY day')).rows,
    ).toEqual([
      { flag: true, day: '2026-11-01', at: '2026-11-01 10:00:00', big: '3000000000', n: 7, amount: '1.5' },
      { flag: false, day: '2026-11-02', at: '2026-11-02 11:30:05.25', big: '-1', n: null, amount: '2' },
    ]);
  });

  it('schema evolve widens integer → numeric → text across loads, keeping the earlier values', async () => {
    const session = await open({ table: 'widened', schema: 'evolve' });
    const cols = [{ name: 'v' }];
    await load(session, batch(cols, [['1'], ['2']]));
    expect(await columnTypes('widened')).toEqual({ v: 'integer' });
    await load(session, batch(cols, [['2.5']]));
    expect(await columnTypes('widened')).toEqual({ v: 'numeric' });
    await load(session, batch(cols, [['n/a'], [null]]));
    expect(await columnTypes('widened')).toEqual({ v: 'text' });
    expect((await db.query('SELECT v FROM widened ORDER BY v NULLS LAST')).rows).toEqual([
      { v: '1' },
      { v: '2' },
      { v: '2.5' },
      { v: 'n/a' },
      { v: null },
    ]);
  });

  it('schema evolve widens from all the batches of a load and adds a new column, also when merging', async () => {
    const session = await open({ table: 'evolved', schema: 'evolve', mode: 'merge', keys: ['id'] });
    await load(session, batch([{ name: 'id' }, { name: 'd' }], [['1', '2026-11-01']]));
    await db.transaction(async (tx) => {
      const u = unit();
      await session.load(
        tx,
        batches(
          batch([{ name: 'id' }, { name: 'd' }, { name: 'Extra Col' }], [['2', '2026-11-02', 'true']]),
          batch(
            [{ name: 'id' }, { name: 'd' }, { name: 'Extra Col' }],
            [['3000000000', '2026-11-03 08:00', null]],
          ),
        ),
        u,
      );
      await session.afterLoad(tx, u);
    });
    expect(await columnTypes('evolved')).toEqual({
      id: 'bigint',
      d: 'timestamp without time zone',
      extra_col: 'boolean',
    });
    expect((await db.query('SELECT id::text, d, extra_col FROM evolved ORDER BY id')).rows).toEqual([
      { id: '1', d: '2026-11-01 00:00:00', extra_col: null },
      { id: '2', d: '2026-11-02 00:00:00', extra_col: true },
      { id: '3000000000', d: '2026-11-03 08:00:00', extra_col: null },
    ]);
  });

  it('schema ignore_new loads only the columns the table has and warns naming the others', async () => {
    const warnings: string[] = [];
    const session = await postgresLoader.open(
      postgresLoader.options.parse({ table: 'ignoring', schema: 'ignore_new' }),
      { ...context(work), logger: { ...context(work).logger, warn: (m: string) => warnings.push(m) } },
    );
    await load(session, batch([{ name: 'a' }], [['1']]));
    await load(session, batch([{ name: 'a' }, { name: 'b' }, { name: 'C c' }], [['2', 'x', 'y']]));
    expect(await columnTypes('ignoring')).toEqual({ a: 'integer' });
    expect((await db.query('SELECT a FROM ignoring ORDER BY a')).rows).toEqual([{ a: 1 }, { a: 2 }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/b, c_c/);
  });

  it('a value the table refuses rejects the file naming the line of its row, past skipped lines', async () => {
    await db.query('CREATE TABLE narrow (id integer, code varchar(3))');
    const session = await open({ table: 'narrow' });
    const rows = [
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'c'],
      ['4', 'toolong'],
      ['5', 'e'],
    ];
    // Lines 4 and 6-8 are not rows here (a reject, a record over three lines).
    const refused = load(session, {
      ...batch([{ name: 'id' }, { name: 'code' }], rows),
      lines: [2, 3, 5, 9, 10],
    });
    await expect(refused).rejects.toMatchObject({ code: 'TARGET_MISMATCH', where: 'test.csv:9' });
  });

  it('names the line of a refused value past the first 8 MB, which PGlite copies as a slice of its own', async () => {
    await db.query('CREATE TABLE wide_rows (id integer, note text)');
    const session = await open({ table: 'wide_rows' });
    const note = 'x'.repeat(1000);
    // Twelve batches of 1,000 rows of ~1 KB; row 10,501 (~10.5 MB in) does not fit the table.
    const parts = Array.from({ length: 12 }, (_, b) => {
      const rows = Array.from({ length: 1000 }, (_, i) => [String(b * 1000 + i + 1), note]);
      return batch([{ name: 'id' }, { name: 'note' }], rows);
    });
    parts[10]!.rows[500]![0] = 'eleven';
    parts.forEach((part, b) => (part.lines = part.lines.map((line) => line + b * 1000)));
    const refused = db.transaction((tx) => session.load(tx, batches(...parts), unit()));
    await expect(refused).rejects.toMatchObject({ code: 'TARGET_MISMATCH', where: 'test.csv:10502' });
  });

  it('schema strict refuses a new column, and a missing one, naming both', async () => {
    const session = await open({ table: 'strictly', schema: 'strict' });
    await load(session, batch([{ name: 'a' }, { name: 'b' }], [['1', '2']]));
    await expect(
      load(session, batch([{ name: 'a' }, { name: 'b' }, { name: 'c' }], [['1', '2', '3']])),
    ).rejects.toThrow(/missing none; new "c"/);
    const refused = load(session, batch([{ name: 'a' }, { name: 'c' }], [['1', '3']]));
    await expect(refused).rejects.toMatchObject({ code: 'TARGET_MISMATCH', where: 'test.csv' });
    await expect(refused).rejects.toThrow(/missing "b"; new "c"/);
    await load(session, batch([{ name: 'b' }, { name: 'a' }], [['4', '3']]));
    expect((await db.query('SELECT a, b FROM strictly ORDER BY a')).rows).toEqual([
      { a: 1, b: 2 },
      { a: 3, b: 4 },
    ]);
    expect(await columnTypes('strictly')).toEqual({ a: 'integer', b: 'integer' });
  });
});

describe('postgres loader, merge into an empty table on a server', () => {
  let testDb: TestDatabase;
  let db: Database;
  let other: pg.Client;
  let work: string;

  beforeAll(async () => {
    work = await tempDir();
    testDb = await createTestDatabase();
    db = await openPostgres(testDb.url);
    await migrate(db);
    other = new pg.Client({ connectionString: testDb.url });
    await other.connect();
  });
  afterAll(async () => {
    await other?.end();
    await db?.close();
    await testDb?.drop();
  });

  it('falls back to the upsert when another session commits a key after the table was seen empty', async () => {
    await db.query('CREATE TABLE raced (id integer PRIMARY KEY, name text)');
    const session = await postgresLoader.open(
      postgresLoader.options.parse({ table: 'raced', mode: 'merge', keys: ['id'] }),
      context(work),
    );
    // The other session's row is not committed yet: the load sees an empty table, and its plain INSERT of
    // key 7 waits for that session, then fails on the key once it commits.
    await other.query('BEGIN');
    await other.query(`INSERT INTO raced VALUES (7, 'other'), (9, 'kept')`);
    const cols = [{ name: 'id', type: 'integer' as const }, { name: 'name' }];
    const loading = db.transaction((tx) => session.load(tx, batches(keySevenTwice(cols)), unit()));
    // Waits on the other transaction's lock: found in pg_locks, not by a timer.
    for (;;) {
      const { rows } = await other.query<{ waiting: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted
           AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())) AS waiting`,
      );
      if (rows[0]!.waiting) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await other.query('COMMIT');
    expect((await loading).rowsLoaded).toBe(3);
    expect((await db.query('SELECT id, name FROM raced ORDER BY id')).rows).toEqual([
      { id: 7, name: 'last' },
      { id: 8, name: 'eight' },
      { id: 9, name: 'kept' },
    ]);
  });
});
