import { cp, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { REPO, tempDir, VISITS_PIPELINE } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { visitsFile } from '../helpers/visits-fixtures.js';

const noStack = /\n\s+at .+:\d+:\d+/;

/** Waits until `condition` holds: for a state another process reaches, never for a fixed time. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 50));
}

describe('sluice CLI', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('runs the demo on the embedded database, and skips the same reports on a second run', async () => {
    const home = await tempDir();
    const first = await runCli(['demo'], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('files: 3 loaded, 0 skipped, 1 rejected');
    expect(first.stdout).toContain('rows:  29 read, 23 loaded, 6 rejected');
    expect(first.stdout).toMatch(/report_2\.txt:10\s+Fecha envio: not a real date-time/);
    const second = await runCli(['demo'], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('files: 0 loaded, 3 skipped, 1 rejected');
    const firstRun = /Run ([0-9a-f-]{36}) of visits/.exec(first.stdout)![1]!;
    const rejects = await runCli(['rejects', '--run', firstRun], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(rejects.stdout).toMatch(
      /report_2\.txt:10\s+datetime\s+Fecha envio: not a real date-time .*\(value "31\/02\/2026 10:00"\)/,
    );
    expect(rejects.stdout).toMatch(/report_4\.txt:1\s+layout\s+expected 15 columns, found 16/);
    // Without --run: the latest run with rejects (the second: only the bad layout again).
    const latest = await runCli(['rejects'], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(latest.stdout).not.toContain('report_2.txt');
    expect(latest.stdout).toContain('report_4.txt:1');
    const runs = await runCli(['runs', '--json'], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(JSON.parse(runs.stdout).map((r: { status: string }) => r.status)).toEqual([
      'succeeded',
      'succeeded',
    ]);
    // One run, then its step log: every entry in the order it was written.
    const short = firstRun.slice(0, 8);
    const shown = await runCli(['runs', short], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(shown.stdout).toContain(`Step log: sluice runs ${short} --log`);
    const withLog = await runCli(['runs', short, '--log'], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(withLog.code, withLog.stderr).toBe(0);
    const entries = withLog.stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d {2}(info|warn|error)/.test(l));
    expect(entries[0]).toContain(`run ${firstRun} of visits started`);
    expect(entries.at(-1)).toContain('run succeeded: 3 files loaded, 0 skipped, 1 rejected');
    expect(entries.some((l) => l.includes('rejected report_4.txt: expected 15 columns'))).toBe(true);
    const asJson = await runCli(['runs', short, '--log', '--json'], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(JSON.parse(asJson.stdout).log).toHaveLength(entries.length);
  });

  it('refuses a second process on the same embedded database with a clear message', async () => {
    const home = await tempDir();
    await mkdir(path.join(home, 'inbox'));
    // A pipeline that holds the database for a while: its SQL step sleeps.
    const file = path.join(home, 'slow.yaml');
    await writeFile(
      file,
      `name: slow
source: { url: ${path.join(home, 'inbox')} }
parse: { type: csv }
load: { type: postgres, table: t, setup: "SELECT pg_sleep(3)" }
`,
    );
    const first = startCli(['run', file], { SLUICE_HOME: home, DATABASE_URL: '' });
    // The first takes the folder's lock before it creates the database, and keeps it to the end.
    await until(() =>
      stat(path.join(home, 'sluice.lock')).then(
        () => true,
        () => false,
      ),
    );
    const second = await runCli(['runs'], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/the embedded database in .* is in use by process \d+/);
    expect(second.stderr).not.toMatch(noStack);
    expect((await first.done).code).toBe(0);
  });

  it('lets one run of a pipeline at a time on a server: the second start refuses', async () => {
    const home = await tempDir();
    await mkdir(path.join(home, 'inbox'));
    const file = path.join(home, 'slow.yaml');
    await writeFile(
      file,
      `name: slow-server
source: { url: ${path.join(home, 'inbox')} }
parse: { type: csv }
load:
  type: postgres
  table: t
  # Holds the run until the test has seen the second start refused.
  setup: "DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM release_slow) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$"
`,
    );
    const env = { SLUICE_HOME: home, DATABASE_URL: testDb.url };
    const db = new pg.Client({ connectionString: testDb.url });
    await db.connect();
    try {
      await db.query('CREATE TABLE release_slow (x int)');
      const first = startCli(['run', file], env);
      await until(async () => {
        const { rows } = await db
          .query(`SELECT 1 FROM sluice.runs WHERE pipeline = 'slow-server' AND status = 'running'`)
          .catch(() => ({ rows: [] }));
        return rows.length > 0;
      });
      const second = await runCli(['run', file], env);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/pipeline slow-server is already running since .*, run [0-9a-f-]{36}/);
      await db.query('INSERT INTO release_slow VALUES (1)');
      expect((await first.done).code).toBe(0);
    } finally {
      await db.end();
    }
  });

  it('validates pipeline files, naming file, line, key path, what was found and what was expected', async () => {
    const dir = await tempDir();
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(
      bad,
      `name: bad
source:
  url: /tmp
parse:
  type: csv
  delimiter: 5
load:
  type: postgres
  table: t
  mode: upsert
`,
    );
    const result = await runCli(['validate', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `sluice: ${bad}: the pipeline is invalid (2 problems):\n  6:14 parse.delimiter:`,
    );
    expect(result.stderr).toMatch(/\n {2}10:9 load\.mode: .*"append".*\(found "upsert"\)/);
    expect(result.stderr).not.toMatch(noStack);

    const ok = await runCli(['validate', VISITS_PIPELINE], { VISITS_SOURCE: '/tmp' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('pipeline visits: files → csv → postgres');
  });

  it('says which environment variable is missing, and where', async () => {
    const result = await runCli(['validate', '--strict-env', VISITS_PIPELINE], { VISITS_SOURCE: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /pipeline\.yaml:\d+:\d+: source\.url: environment variable VISITS_SOURCE is not set/,
    );
  });

  it('lists plugins with their options from the same specs, and prints a JSON Schema', async () => {
    const plugins = await runCli(['plugins', '--json']);
    const docs = JSON.parse(plugins.stdout) as { kind: string; name: string; options: { name: string }[] }[];
    const csv = docs.find((d) => d.kind === 'parser' && d.name === 'csv')!;
    expect(csv.options.map((o) => o.name)).toEqual(
      expect.arrayContaining(['delimiter', 'quote', 'encoding', 'expectHeader']),
    );
    expect(docs.find((d) => d.name === 'sftp')!.options.map((o) => o.name)).toContain('hostKey');
    const schema = await runCli(['schema']);
    const json = JSON.parse(schema.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(json.properties)).toEqual(
      expect.arrayContaining(['name', 'source', 'parse', 'check', 'load', 'archive']),
    );
  });

  it('runs a pipeline with --json and exits 0 with rejected rows', async () => {
    const home = await tempDir();
    const inbox = path.join(home, 'inbox');
    await mkdir(inbox);
    await writeFile(
      path.join(inbox, 'report_1.txt'),
      visitsFile([{ email: 'a@example.com', sent: '01/11/2026 10:00' }, 'x,y']),
    );
    const result = await runCli(['run', VISITS_PIPELINE, '--json', '--as-of', '2026-11-27'], {
      SLUICE_HOME: home,
      DATABASE_URL: testDb.url,
      VISITS_SOURCE: inbox,
      VISITS_BACKUP_DIR: path.join(home, 'backup'),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 'succeeded',
      rowsLoaded: 1,
      rowsRejected: 1,
      asOf: '2026-11-27',
    });
    const badDate = await runCli(['run', VISITS_PIPELINE, '--as-of', '2026-02-30'], { VISITS_SOURCE: inbox });
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain('--as-of must be a date as YYYY-MM-DD');
  });

  it('keeps the examples runnable from the repository', async () => {
    const home = await tempDir();
    await cp(path.join(REPO, 'examples/visits/data'), path.join(home, 'inbox'), { recursive: true });
    const result = await runCli(['run', VISITS_PIPELINE, '--dry-run'], {
      SLUICE_HOME: home,
      DATABASE_URL: '',
      VISITS_SOURCE: path.join(home, 'inbox'),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Dry run .* of visits succeeded/);
    expect(result.stdout).toContain('files: 3 loaded, 0 skipped, 1 rejected');
  });
});
