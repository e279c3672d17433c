import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import type { LogEntry } from '../../src/store/step-log.js';
import { runPipelineFile, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../helpers/test-mysql-database.js';

/** CSV files into MariaDB through the runner, with the control plane (ledger, rejects) in PostgreSQL. */
describe('a CSV pipeline into MariaDB', () => {
  let control: TestDatabase;
  let db: Database;
  let mysql: TestMysqlDatabase;
  let home: string;

  beforeAll(async () => {
    home = await tempDir();
    control = await createTestDatabase();
    db = await openStore({ databaseUrl: control.url, home });
    mysql = await createTestMysqlDatabase();
  });
  afterAll(async () => {
    await db.close();
    await control.drop();
    await mysql.drop();
  });

  /** A folder of CSV files and a pipeline loading them into `table`. */
  async function pipeline(name: string, load: string, files: Record<string, string>) {
    const dir = path.join(home, name);
    await mkdir(path.join(dir, 'in'), { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, 'in', file), text);
    const file = path.join(dir, 'pipeline.yaml');
    await writeFile(
      file,
      `name: ${name}
source: { url: "\${IN}" }
parse: { type: csv }
check:
  columns:
    id: { integer: true }
load: { type: mysql, url: "\${MYSQL_URL}", ${load} }
`,
    );
    const logs: LogEntry[] = [];
    const run = (options: { dryRun?: boolean } = {}) =>
      runPipelineFile(db, file, {
        env: { IN: path.join(dir, 'in'), MYSQL_URL: mysql.url },
        home,
        onLog: (e) => logs.push(e),
        ...options,
      });
    return { run, logs, dir };
  }

  /**
   * Makes the control plane's commit of the first `loaded` ledger entry of `pipeline` fail: a deferred
   * constraint trigger raises at COMMIT, after the loader committed its MySQL transaction. A sequence counts
   * the attempts because it is not rolled back with the failed transaction.
   */
  async function failFirstCommit(pipeline: string, sqlState: string) {
    const id = pipeline.replaceAll('-', '_');
    await db.exec(`
      CREATE SEQUENCE ${id}_commits;
      CREATE FUNCTION ${id}_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.pipeline = '${pipeline}' AND NEW.status = 'loaded' AND nextval('${id}_commits') = 1 THEN
          RAISE EXCEPTION 'the control plane fails this commit' USING ERRCODE = '${sqlState}';
        END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER ${id}_fail AFTER INSERT ON sluice.files
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${id}_fail();`);
  }

  const count = async (table: string) =>
    Number((await mysql.query<{ n: string }>(`SELECT count(*) AS n FROM \`${table}\``))[0]!.n);

  it('loads each file once: a second run skips what the first loaded', async () => {
    const p = await pipeline('mysql-twice', 'table: visits, mode: append', {
      'a.csv': 'id,name\n1,ann\n2,bob\n',
      'b.csv': 'id,name\n3,cy\nx,bad\n',
    });
    const first = await p.run();
    expect(first).toMatchObject({ status: 'succeeded', filesLoaded: 2, rowsLoaded: 3, rowsRejected: 1 });
    const second = await p.run();
    expect(second).toMatchObject({ status: 'succeeded', filesLoaded: 0, filesSkipped: 2, rowsLoaded: 0 });
    expect(await mysql.query('SELECT id, name FROM visits ORDER BY id')).toEqual([
      { id: '1', name: 'ann' },
      { id: '2', name: 'bob' },
      { id: '3', name: 'cy' },
    ]);
    expect(
      await mysql.query(
        `SELECT target, rows_loaded FROM _sluice_loads WHERE target LIKE '%.visits' ORDER BY origin`,
      ),
    ).toEqual([
      { target: `${mysql.name}.visits`, rows_loaded: '2' },
      { target: `${mysql.name}.visits`, rows_loaded: '1' },
    ]);
  });

  it('a run that failed after the MySQL commit but before the ledger commit reruns without duplicates', async () => {
    await failFirstCommit('mysql-crash', 'P0001');
    const p = await pipeline('mysql-crash', 'table: crashed, mode: append', {
      'a.csv': 'id,name\n1,ann\n2,bob\n',
    });
    const failed = await p.run();
    expect(failed).toMatchObject({ status: 'failed', filesLoaded: 0 });
    expect(failed.error?.message).toMatch(/the control plane fails this commit/);
    // The rows committed in MySQL; the ledger knows nothing of them.
    expect(await count('crashed')).toBe(2);
    expect(
      (await db.query(`SELECT count(*)::int AS n FROM sluice.files WHERE pipeline = 'mysql-crash'`)).rows,
    ).toEqual([{ n: 0 }]);

    const rerun = await p.run();
    expect(rerun).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 2 });
    expect(p.logs.some((e) => /a\.csv is already in crashed .*not loaded again/.test(e.message))).toBe(true);
    expect(await mysql.query('SELECT id, name FROM crashed ORDER BY id')).toEqual([
      { id: '1', name: 'ann' },
      { id: '2', name: 'bob' },
    ]);
    expect(
      (
        await db.query(
          `SELECT rows_loaded::int AS n FROM sluice.files WHERE pipeline = 'mysql-crash' AND status = 'loaded'`,
        )
      ).rows,
    ).toEqual([{ n: 2 }]);
  });

  it('a transient failure of the ledger commit is retried in the run; the merge keeps one copy and rejects null keys', async () => {
    await failFirstCommit('mysql-retry', '40001'); // serialization failure: retryable
    const p = await pipeline('mysql-retry', 'table: merged, mode: merge, keys: [id]', {
      'a.csv': 'id,name\n1,ann\n,nobody\n2,bob\n1,anne\n',
    });
    const summary = await p.run();
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 3, rowsRejected: 1 });
    expect(
      p.logs.some(
        (e) => e.level === 'warn' && /loading a\.csv failed \(attempt 1\), retrying/.test(e.message),
      ),
    ).toBe(true);
    expect(await mysql.query('SELECT id, name FROM merged ORDER BY id')).toEqual([
      { id: '1', name: 'anne' },
      { id: '2', name: 'bob' },
    ]);
    expect(
      (
        await db.query(
          `SELECT file, line, column_name, rule FROM sluice.rejects WHERE pipeline = 'mysql-retry' ORDER BY line`,
        )
      ).rows,
    ).toEqual([{ file: 'a.csv', line: 3, column_name: 'id', rule: 'key' }]);
  });

  it('a dry run changes nothing in MySQL: no table, no rows, no marker', async () => {
    const p = await pipeline('mysql-dry', 'table: dry, mode: merge, keys: [id]', {
      'a.csv': 'id,name\n1,ann\n2,bob\n',
    });
    const tables = () =>
      mysql.query<{ name: string }>(
        `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'dry'`,
      );
    const markers = () => mysql.query(`SELECT unit_key FROM _sluice_loads WHERE target LIKE '%.dry'`);
    const dry = await p.run({ dryRun: true });
    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, filesLoaded: 1, rowsLoaded: 2 });
    expect(await tables()).toEqual([]);

    // Into a table that exists: the rows, the replace and the marker are rolled back.
    expect(await p.run()).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 2 });
    await writeFile(path.join(p.dir, 'in', 'b.csv'), 'id,name\n2,robert\n3,cy\n');
    const before = await markers();
    expect(before).toHaveLength(1);
    expect(await p.run({ dryRun: true })).toMatchObject({
      status: 'succeeded',
      filesLoaded: 1,
      rowsLoaded: 2,
    });
    expect(await mysql.query('SELECT id, name FROM dry ORDER BY id')).toEqual([
      { id: '1', name: 'ann' },
      { id: '2', name: 'bob' },
    ]);
    expect(await markers()).toEqual(before);
  });
});
