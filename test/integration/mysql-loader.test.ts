import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadSession, LoadUnit, PluginContext } from '../../src/core/plugin.js';
import type { RecordBatch } from '../../src/core/records.js';
import { mysqlLoader } from '../../src/plugins/loaders/mysql/mysql-loader.js';
import { openPostgres, type Database } from '../../src/store/database.js';
import { freePort } from '../helpers/free-port.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../helpers/test-mysql-database.js';

// What only the mysql loader does; the behaviours every loader shares are in test/conformance/.
describe('mysql loader', () => {
  let mysql: TestMysqlDatabase;
  let control: TestDatabase;
  let db: Database;
  let context: PluginContext;

  beforeAll(async () => {
    context = {
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      signal: new AbortController().signal,
      workDir: await tempDir(),
    };
    mysql = await createTestMysqlDatabase();
    control = await createTestDatabase();
    db = await openPostgres(control.url);
  });
  afterAll(async () => {
    await db.close();
    await control.drop();
    await mysql.drop();
  });

  const open = (options: Record<string, unknown>): Promise<LoadSession> =>
    mysqlLoader.open(mysqlLoader.options.parse({ url: mysql.url, ...options }), context);
  const batch = (columns: string[], rows: (string | null)[][]): RecordBatch => ({
    columns: columns.map((name) => ({ name })),
    rows,
    origin: 'm.csv',
    lines: rows.map((_, i) => i + 2),
  });
  const unit = (u: Partial<LoadUnit> = {}): LoadUnit => ({
    runId: randomUUID(),
    asOf: '2026-11-27',
    origin: 'm.csv',
    key: randomUUID(),
    firstOfRun: true,
    ...u,
  });
  const load = (session: LoadSession, b: RecordBatch, u = unit()) =>
    db.transaction(async (tx) => {
      const result = await session.load(
        tx,
        (async function* () {
          yield b;
        })(),
        u,
      );
      await session.afterLoad(tx, u);
      return result;
    });

  it('refuses to merge into a table without a unique key on the keys, instead of appending', async () => {
    await mysql.query('CREATE TABLE loose (id INT, v TEXT)');
    const session = await open({ table: 'loose', mode: 'merge', keys: ['id'] });
    await expect(load(session, batch(['id', 'v'], [['1', 'a']]))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/no primary key or unique index on \(id\)/),
    });
  });

  it('loads into database.table, and runs SQL steps in the transaction of the rows', async () => {
    const session = await open({
      table: `${mysql.name}.stepped`,
      afterLoad: `CREATE TEMPORARY TABLE IF NOT EXISTS t_seen (n INT);
                  INSERT INTO derived (n, run_id, origin) SELECT count(*), @sluice_run_id, @sluice_origin FROM staged`,
      setup: 'CREATE TABLE IF NOT EXISTS derived (n INT, run_id TEXT, origin TEXT)',
    });
    await db.transaction((tx) => session.startRun(tx, { runId: 'r', asOf: '2026-11-27' }));
    const u = unit();
    await load(session, batch(['v'], [['a'], ['b']]), u);
    expect(await mysql.query('SELECT n, run_id, origin FROM derived')).toEqual([
      { n: 2, run_id: u.runId, origin: 'm.csv' },
    ]);
    // A failing step rolls back the rows and the marker: the retry loads them.
    const failing = await open({ table: 'stepped', afterLoad: 'SELECT * FROM no_such_table' });
    const again = unit();
    await expect(load(failing, batch(['v'], [['c']]), again)).rejects.toMatchObject({
      code: 'DATABASE_ERROR',
      retryable: false,
    });
    expect(await mysql.query('SELECT v FROM stepped ORDER BY v')).toEqual([{ v: 'a' }, { v: 'b' }]);
    const fixed = await open({ table: 'stepped' });
    expect(await load(fixed, batch(['v'], [['c']]), again)).toEqual({ rowsLoaded: 1 });
    expect(await mysql.query('SELECT v FROM stepped ORDER BY v')).toEqual([
      { v: 'a' },
      { v: 'b' },
      { v: 'c' },
    ]);
  });

  it.each(['loadData', 'insert'])(
    'names the line of a value MySQL refuses (%s), and loads nothing of the unit',
    async (method) => {
      await mysql.query(`CREATE TABLE typed_${method} (n INT)`);
      const session = await open({ table: `typed_${method}`, method, batchSize: 2 });
      const refused = load(session, batch(['n'], [['1'], ['2'], ['3'], ['x'], ['5']]));
      await expect(refused).rejects.toMatchObject({ where: 'm.csv:5' });
      await expect(refused).rejects.toThrow(/Incorrect integer value/);
      expect(await mysql.query(`SELECT * FROM typed_${method}`)).toEqual([]);
    },
  );

  it('a rerun of a unit already loaded by another run skips it, but replace reloads it in a new run', async () => {
    const appending = await open({ table: 'rerun_append' });
    const key = randomUUID();
    await load(appending, batch(['v'], [['a']]), unit({ key }));
    expect(await load(appending, batch(['v'], [['a']]), unit({ key }))).toEqual({ rowsLoaded: 1 });
    expect(await mysql.query('SELECT v FROM rerun_append')).toEqual([{ v: 'a' }]);

    const replacing = await open({ table: 'rerun_replace', mode: 'replace' });
    await load(replacing, batch(['v'], [['a']]), unit({ key }));
    await load(replacing, batch(['v'], [['b']]), unit());
    await load(replacing, batch(['v'], [['a']]), unit({ key })); // a new run: the table is replaced
    expect(await mysql.query('SELECT v FROM rerun_replace')).toEqual([{ v: 'a' }]);
  });

  it('an unreachable server is a retryable error that names it without the password', async () => {
    const port = await freePort();
    const session = await mysqlLoader.open(
      mysqlLoader.options.parse({ url: `mysql://etl:secret@127.0.0.1:${port}/db`, table: 't' }),
      context,
    );
    const refused = load(session, batch(['v'], [['a']]));
    await expect(refused).rejects.toMatchObject({ code: 'DATABASE_UNREACHABLE', retryable: true });
    await expect(refused).rejects.toThrow(`mysql://etl@127.0.0.1:${port}/db`);
    await expect(refused).rejects.not.toThrow(/secret/);
    expect(() => mysqlLoader.options.parse({ url: 'postgres://x/y', table: 't' })).toThrow(/mysql:\/\//);
  });
});
