import { appendFile, copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImportRule } from '../../src/core/import-rule-spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { importFile } from '../../src/runner/import-file.js';
import { startWatcher, watchOnce, type WatchResult } from '../../src/runner/watch-imports.js';
import type { Database } from '../../src/store/database.js';
import { listDatasets } from '../../src/store/datasets.js';
import { saveImportRules } from '../../src/store/import-rules.js';
import { runCli, startCli } from '../helpers/cli.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';
import { writeXlsx } from '../helpers/workbooks.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { holdPipeline } from '../helpers/claims.js';

const registry = createRegistry();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const ls = async (dir: string) => (await readdir(dir).catch(() => [])).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the import watcher with no rule yet', () => {
  it('says there is nothing to watch, is ready at once, and takes up a rule added later', async () => {
    const store = await createTestStore();
    const inbox = path.join(store.home, 'later-inbox');
    const infos: string[] = [];
    const results: WatchResult[] = [];
    const watcher = await startWatcher({
      db: store.db,
      registry,
      home: store.home,
      logger: { ...quiet, info: (m: string) => infos.push(m) },
      stabilityMs: 50,
      refreshMs: 200,
      onResult: (r) => results.push(r),
    });
    try {
      await watcher.ready; // chokidar never says 'ready' with nothing to watch: this used to wait forever
      expect(infos).toEqual([
        expect.stringMatching(/^no active import rule: nothing to watch until one is added/),
      ]);
      const later = parseImportRule(
        {
          name: 'later',
          filePattern: '.*',
          fileType: 'csv',
          sourceFolder: inbox,
          archiveFolder: path.join(store.home, 'later', 'archive'),
          targetTable: 'later',
        },
        registry,
      );
      await saveImportRules(store.db, [later], 'insert');
      await mkdir(inbox, { recursive: true });
      await writeFile(path.join(inbox, 'a.csv'), 'n\n1\n2\n');
      for (let waited = 0; results.length === 0 && waited < 30_000; waited += 100) await sleep(100);
      expect(results).toMatchObject([{ kind: 'imported', result: { status: 'loaded', rowsLoaded: 2 } }]);
      expect(infos).toContain(`watching ${inbox}`);
    } finally {
      await watcher.close();
      await store.close();
    }
  });
});

describe('`sluice watch` on the embedded database', () => {
  it('lets other commands work through it while it runs, and leaves nothing behind when stopped', async () => {
    const home = await tempDir('sluice-watch-share-');
    const env = { DATABASE_URL: '', SLUICE_HOME: home };
    const watch = startCli(['watch'], env);
    try {
      for (let waited = 0; !/no active import rule/.test(watch.stderr()) && waited < 60_000; waited += 100)
        await sleep(100);
      expect(watch.stderr()).toMatch(/no active import rule: nothing to watch until one is added/);
      const runs = await runCli(['runs'], env);
      expect(runs.stderr).toBe('');
      expect(runs.code).toBe(0);
      const serve = await runCli(['serve', '--port', '0'], env);
      expect(serve.code).toBe(1);
      expect(serve.stderr).toMatch(/in use by process \d+ \(sluice watch\)/);
      expect(serve.stderr).toContain('`sluice watch` holds it until it is stopped: stop it first');
    } finally {
      watch.child.kill('SIGTERM');
    }
    const stopped = await watch.done;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toMatch(/stopping\n$/);
    expect(await ls(home)).not.toContain('sluice.sock');
    expect(await ls(home)).not.toContain('sluice.lock');
  });
});

describe('the import watcher', () => {
  let store: TestStore;
  let db: Database;
  let home: string;
  beforeAll(async () => {
    store = await createTestStore();
    ({ db, home } = store);
  });
  afterAll(async () => {
    await store?.close();
  });

  const rule = (name: string, inbox: string, extra: Record<string, unknown> = {}) =>
    parseImportRule(
      {
        name,
        filePattern: '.*',
        fileType: 'csv',
        sourceFolder: inbox,
        archiveFolder: path.join(home, name, 'archive'),
        targetTable: name,
        ...extra,
      },
      registry,
    );
  const count = async (sql: string) => (await db.query<{ n: number }>(sql)).rows[0]!.n;

  it('`watch --once` imports each file under the highest-priority matching rule and moves the rest to unmatched/', async () => {
    const inbox = path.join(home, 'once-inbox');
    await mkdir(path.join(inbox, 'unmatched'), { recursive: true });
    await saveImportRules(
      db,
      [
        rule('orders', inbox, { filePattern: '^orders_.*\\.csv$', priority: 1 }),
        rule('special_orders', inbox, { filePattern: 'special', priority: 5 }),
        rule('stock', inbox, { filePattern: '^stock.*\\.xlsx$', fileType: 'xlsx' }),
        rule('off', inbox, { filePattern: 'notes', active: false }),
      ],
      'insert',
    );
    await writeFile(path.join(inbox, 'orders_1.csv'), 'id,total\n1,9.5\n2,3\n');
    await writeFile(path.join(inbox, 'orders_special.csv'), 'id,total\n3,1\n');
    await writeXlsx(path.join(inbox, 'stock_jan.xlsx'), [
      ['sku', 'qty'],
      ['a', 1],
    ]);
    await writeFile(path.join(inbox, 'notes.txt'), 'hello');
    await writeFile(path.join(inbox, 'unmatched', 'notes.txt'), 'an earlier one');
    await writeFile(path.join(inbox, '.partial.csv'), 'id\n');

    const result = await runCli(['watch', '--once', '--stability', '100ms'], {
      DATABASE_URL: store.url!,
      SLUICE_HOME: path.join(home, 'cli-home'),
    });
    expect(result.stdout).toBe('4 files: 1 unmatched, 3 loaded\n');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /warn: no active import rule matches notes\.txt: moved to .*unmatched\/notes_\d{8}T\d{6}Z\.txt/,
    );
    expect(await count('SELECT count(*)::int AS n FROM orders')).toBe(2);
    expect(await count('SELECT count(*)::int AS n FROM special_orders')).toBe(1);
    expect(await count('SELECT count(*)::int AS n FROM stock')).toBe(1);
    expect(await ls(inbox)).toEqual(['.partial.csv', 'unmatched']);
    expect(await ls(path.join(inbox, 'unmatched'))).toEqual([
      'notes.txt',
      expect.stringMatching(/^notes_\d{8}T\d{6}Z\.txt$/),
    ]);
    expect(await ls(path.join(home, 'special_orders', 'archive'))).toEqual(['orders_special.csv']);
    expect((await listDatasets(db)).map((d) => [d.rule, d.status])).toEqual([
      ['stock', 'active'],
      ['special_orders', 'active'],
      ['orders', 'active'],
    ]);
  });

  it('picks up a file copied in slowly once, when it is complete', async () => {
    const inbox = path.join(home, 'slow-inbox');
    await mkdir(inbox, { recursive: true });
    await saveImportRules(db, [rule('slow', inbox)], 'insert');
    const results: WatchResult[] = [];
    const watcher = await startWatcher({
      db,
      registry,
      home,
      logger: quiet,
      // Far longer than the pauses between writes below, so that a busy machine cannot make them look quiet.
      stabilityMs: 3000,
      onResult: (r) => results.push(r),
    });
    try {
      await watcher.ready;
      const file = path.join(inbox, 'slow.csv');
      await writeFile(file, 'n,text\n');
      let rows = 0;
      // 10 chunks, 100 ms apart: never quiet long enough to look complete.
      for (let chunk = 0; chunk < 10; chunk++) {
        let text = '';
        for (let i = 0; i < 500; i++) text += `${++rows},row ${rows}\n`;
        await appendFile(file, text);
        expect(results).toEqual([]);
        await sleep(100);
      }
      for (let waited = 0; results.length === 0 && waited < 60_000; waited += 100) await sleep(100);
      await sleep(1_500); // nothing else comes
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ kind: 'imported', result: { status: 'loaded', rowsLoaded: 5_000 } });
      expect(await count('SELECT count(*)::int AS n FROM slow')).toBe(5_000);
      expect(await count(`SELECT count(*)::int AS n FROM sluice.files WHERE pipeline = 'import.slow'`)).toBe(
        1,
      );
      expect(await ls(path.join(home, 'slow', 'archive'))).toEqual(['slow.csv']);
    } finally {
      await watcher.close();
    }
  });

  it('tries a file again when its import failed for a reason outside the file (its pipeline was busy)', async () => {
    const inbox = path.join(home, 'busy-inbox');
    await mkdir(inbox, { recursive: true });
    await saveImportRules(db, [rule('busy', inbox)], 'insert');
    const results: WatchResult[] = [];
    const errors: string[] = [];
    const busy = await holdPipeline(db, 'import.busy');
    const watcher = await startWatcher({
      db,
      registry,
      home,
      logger: { ...quiet, error: (m: string) => errors.push(m), warn: (m: string) => errors.push(m) },
      stabilityMs: 100,
      refreshMs: 400,
      onResult: (r) => results.push(r),
    });
    try {
      await watcher.ready;
      await writeFile(path.join(inbox, 'late.csv'), 'n,text\n1,one\n2,two\n');
      for (let waited = 0; errors.length === 0 && waited < 10_000; waited += 50) await sleep(50);
      expect(errors.join('\n')).toMatch(/already running/);
      expect(await ls(inbox)).toEqual(['late.csv']);
      await busy.release();
      for (let waited = 0; !results.some((r) => r.kind === 'imported') && waited < 10_000; waited += 100)
        await sleep(100);
      expect(results.filter((r) => r.kind === 'imported')).toHaveLength(1);
      expect(await count('SELECT count(*)::int AS n FROM busy')).toBe(2);
      expect(await ls(inbox)).toEqual([]);
    } finally {
      await busy.release();
      await watcher.close();
    }
  });

  it('never imports a file twice when the move after the commit did not happen', async () => {
    const inbox = path.join(home, 'again-inbox');
    await mkdir(inbox, { recursive: true });
    const r = rule('again', inbox);
    await saveImportRules(db, [r], 'insert');
    await writeFile(path.join(inbox, 'a.csv'), 'x\n1\n2\n');
    const first = await importFile({ db, registry, home, rule: r, file: path.join(inbox, 'a.csv') });
    expect(first.status).toBe('loaded');
    // As if the process died between the commit and the move: the file is back in the inbox.
    await copyFile(path.join(home, 'again', 'archive', 'a.csv'), path.join(inbox, 'a.csv'));
    const results = await watchOnce({ db, registry, home, logger: quiet, stabilityMs: 50 });
    expect(results).toMatchObject([{ kind: 'imported', result: { status: 'skipped' } }]);
    expect(await count('SELECT count(*)::int AS n FROM again')).toBe(2);
    expect((await listDatasets(db, { rule: 'again' })).map((d) => d.status)).toEqual(['active']);
    expect(await ls(inbox)).toEqual([]);
  });

  it('a watcher killed in the middle of a load leaves the file in place, and the next run imports it once', async () => {
    const inbox = path.join(home, 'kill-inbox');
    await mkdir(inbox, { recursive: true });
    await saveImportRules(db, [rule('big', inbox)], 'insert');
    const lines = ['id,name,amount'];
    for (let i = 1; i <= 400_000; i++) lines.push(`${i},name ${i},${i * 0.25}`);
    await writeFile(path.join(inbox, 'big.csv'), lines.join('\n') + '\n');
    const env = { DATABASE_URL: store.url!, SLUICE_HOME: path.join(home, 'kill-home') };

    const { child, done } = startCli(['watch', '--once', '--stability', '50ms'], env);
    for (let waited = 0; waited < 60_000; waited += 50) {
      const running = await count(
        `SELECT count(*)::int AS n FROM sluice.runs WHERE pipeline = 'import.big' AND status = 'running'`,
      );
      if (running > 0) break;
      await sleep(50);
    }
    await sleep(300); // into the load
    child.kill('SIGKILL');
    await done;
    expect(await ls(inbox)).toEqual(['big.csv']);
    expect(await count(`SELECT count(*)::int AS n FROM sluice.datasets WHERE rule = 'big'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM sluice.files WHERE pipeline = 'import.big'`)).toBe(0);

    const rerun = await runCli(['watch', '--once', '--stability', '50ms'], env);
    expect(rerun.stdout).toBe('1 file: 1 loaded\n');
    expect(await count('SELECT count(*)::int AS n FROM big')).toBe(400_000);
    expect((await listDatasets(db, { rule: 'big' })).map((d) => [d.status, d.row_count])).toEqual([
      ['active', 400_000],
    ]);
    expect(await ls(inbox)).toEqual([]);
  });
});
