import { openAsBlob } from 'node:fs';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// Backups end to end: a server database is dumped with pg_dump and restored with pg_restore into a fresh
// database with the same rows; the embedded database's copy opens with PGlite and holds the same rows.
// Old backups past the retention go, the newest stays.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const DAY = 86_400_000;

async function aged(file: string, days: number) {
  await writeFile(file, 'old backup');
  const t = new Date(Date.now() - days * DAY);
  await utimes(file, t, t);
}

async function counts(query: (sql: string) => Promise<{ rows: { n: number | string }[] }>) {
  const one = async (sql: string) => Number((await query(sql)).rows[0]!.n);
  return {
    visits: await one('SELECT count(*) AS n FROM public.visits'),
    sum: await one('SELECT sum(id) AS n FROM public.visits'),
    runs: await one(`SELECT count(*) AS n FROM sluice.runs WHERE kind = 'pipeline'`),
    migrations: await one('SELECT count(*) AS n FROM sluice.migrations'),
  };
}

async function seed(store: TestStore) {
  await store.db.exec(`CREATE TABLE public.visits (id integer PRIMARY KEY, email text);
    INSERT INTO public.visits SELECT i, 'v' || i || '@example.com' FROM generate_series(1, 1000) i;
    INSERT INTO sluice.runs (id, pipeline, status, as_of) VALUES (gen_random_uuid(), 'visits', 'succeeded', current_date);`);
}

describe('backups', () => {
  it('dumps a server database with pg_dump; pg_restore brings the same rows into a fresh database', async () => {
    const store = await createTestStore({ prefix: 'sluice-ops-backup-' });
    cleanups.push(() => store.close());
    await seed(store);
    const dir = await tempDir('sluice-ops-backups-');
    await aged(path.join(dir, 'sluice-20200101-000000.dump'), 30); // past the 14 days kept
    await aged(path.join(dir, 'sluice-20991231-000000.dump'), 1);
    await aged(path.join(dir, 'other-20200101-000000.dump'), 30); // another prefix: not ours

    const cli = await runCli(['backup', '--dir', dir, '--keep', '14d', '--json'], store.env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const summary = JSON.parse(cli.stdout) as { result: { file: string; removed: string[] } };
    const made = path.basename(summary.result.file);
    expect(made).toMatch(/^sluice-\d{8}-\d{6}\.dump$/);
    expect(summary.result.removed).toEqual(['sluice-20200101-000000.dump']);
    expect((await readdir(dir)).sort()).toEqual(
      [made, 'other-20200101-000000.dump', 'sluice-20991231-000000.dump'].sort(),
    );

    const fresh: TestDatabase = await createTestDatabase();
    cleanups.push(() => fresh.drop());
    const restore = await runCli(['restore', summary.result.file], { DATABASE_URL: fresh.url });
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    const missing = `${summary.result.file}.missing`;
    expect(await runCli(['restore', missing], { DATABASE_URL: fresh.url })).toMatchObject({
      code: 2,
      stderr: `sluice: ${missing}: cannot be read: no such file\n`,
    });
    const restored = await openPostgres(fresh.url);
    cleanups.push(() => restored.close());
    expect(await counts((sql) => restored.query(sql))).toEqual(await counts((sql) => store.db.query(sql)));
    expect((await counts((sql) => restored.query(sql))).visits).toBe(1000);
    // The dump was taken while the backup ran: the copy's record of that run is closed, saying why.
    expect(restore.stdout).toContain('closed 1 run the copy holds as running');
    const open = `SELECT pipeline, status, error FROM sluice.runs WHERE status <> 'succeeded'`;
    expect((await store.db.query(open)).rows).toEqual([]);
    expect((await restored.query(open)).rows).toEqual([
      {
        pipeline: 'backup',
        status: 'interrupted',
        error: `was running when the backup ${made} was taken; closed when it was restored`,
      },
    ]);
  });

  it('copies the embedded database under its lock; the copy opens with PGlite and restores', async () => {
    const store = await createTestStore({ kind: 'pglite', prefix: 'sluice-ops-embedded-' });
    let open = true;
    cleanups.push(async () => open && (await store.close()));
    await seed(store);
    const dir = await tempDir('sluice-ops-copies-');
    const { runTask } = await import('../../src/runner/tasks/run-task.js');
    const { taskAction } = await import('../../src/runner/tasks/task-action.js');
    const { validateTask } = await import('../../src/core/task-spec.js');
    const task = validateTask({ name: 'nightly-backup', type: 'backup', options: { dir } });
    const summary = await runTask({ db: store.db, task, action: taskAction(task), home: store.home });
    expect(summary.status).toBe('succeeded');
    const file = (summary.result as { file: string }).file;
    expect(path.basename(file)).toMatch(/^sluice-\d{8}-\d{6}\.tar\.gz$/);
    const expected = await counts((sql) => store.db.query(sql));
    await store.close();
    open = false;

    const copy = await PGlite.create({ loadDataDir: await openAsBlob(file) });
    try {
      expect(await counts((sql) => copy.query(sql))).toEqual(expected);
    } finally {
      await copy.close();
    }

    // `sluice restore` makes it the embedded database of a new home, which Sluice then opens.
    const home = await tempDir('sluice-ops-restored-');
    const restore = await runCli(['restore', file], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    const sql = await runCli(['sql', 'SELECT count(*) AS n FROM public.visits', '--json'], {
      SLUICE_HOME: home,
      DATABASE_URL: '',
    });
    expect(sql.code).toBe(0);
    expect(sql.stdout).toContain('1000');
    expect(restore.stdout).toContain('closed 1 run the copy holds as running');
    const stillOpen = await runCli(
      ['sql', `SELECT pipeline, status FROM sluice.runs WHERE status <> 'succeeded'`, '--json'],
      { SLUICE_HOME: home, DATABASE_URL: '' },
    );
    expect(JSON.parse(stillOpen.stdout)).toEqual([{ pipeline: 'nightly-backup', status: 'interrupted' }]);
    const again = await runCli(['restore', file], { SLUICE_HOME: home, DATABASE_URL: '' });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already holds an embedded database');
    const missing = path.join(home, 'no-such-copy.tar.gz');
    expect(await runCli(['restore', missing], { SLUICE_HOME: home, DATABASE_URL: '' })).toMatchObject({
      code: 2,
      stderr: `sluice: ${missing}: cannot be read: no such file\n`,
    });
    const folder = path.join(home, 'a-folder.tar.gz');
    await mkdir(folder);
    expect(await runCli(['restore', folder], { SLUICE_HOME: home, DATABASE_URL: '' })).toMatchObject({
      code: 2,
      stderr: `sluice: ${folder}: cannot be read: a folder, not a file\n`,
    });
  });
});
