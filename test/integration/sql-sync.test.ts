import os from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePipeline, type PipelineSpec } from '../../src/core/spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { cleanupStaleRuns } from '../../src/runner/cleanup.js';
import { runGroup } from '../../src/runner/run-group.js';
import { runPipeline, type RunSummary } from '../../src/runner/run-pipeline.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { getState } from '../../src/store/state.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

// The source is one PostgreSQL database, the target (and Sluice's control plane) another.
let source: TestDatabase;
let target: TestDatabase;
let src: pg.Client;
let db: Database;
let home: string;
const registry = createRegistry();

beforeAll(async () => {
  [source, target] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  src = new pg.Client({ connectionString: source.url });
  await src.connect();
  home = await tempDir('sluice-sync-');
  db = await openStore({ databaseUrl: target.url, home });
});

afterAll(async () => {
  await db?.close();
  await src?.end();
  await source?.drop();
  await target?.drop();
});

async function targetRows(sql: string) {
  return (await db.query(sql)).rows;
}

function spec(name: string, sourceYaml: string, loadYaml: string, extra = ''): PipelineSpec {
  const text = `name: ${name}
${extra}
source:
  type: sql
  url: \${SOURCE_URL}
${sourceYaml.replace(/^/gm, '  ')}
load:
  type: postgres
${loadYaml.replace(/^/gm, '  ')}
`;
  return parsePipeline(text, { env: { SOURCE_URL: source.url }, registry });
}

const run = (s: PipelineSpec, force = false): Promise<RunSummary> =>
  runPipeline({ db, spec: s, registry, home, force });

describe('sql source, PostgreSQL to PostgreSQL', () => {
  it('takes only new and changed rows past the watermark, and never moves it on an empty read', async () => {
    await src.query(`CREATE TABLE orders (id int PRIMARY KEY, updated_at timestamp NOT NULL, amount numeric(10,2), note text);
      INSERT INTO orders VALUES (1, '2026-11-01 10:00', 10.50, 'tab\there'), (2, '2026-11-02 10:00', 20, NULL), (3, '2026-11-03 10:00', 30, 'back\\slash')`);
    const orders = spec(
      'orders',
      'table: orders\nprimaryKey: [id]\nincrementalColumn: updated_at\nbatchSize: 2',
      'table: orders\nmode: merge\nkeys: [id]',
    );
    const first = await run(orders);
    expect(first.status).toBe('succeeded');
    expect(first.rowsLoaded).toBe(3);
    expect(await getState(db, 'orders', 'watermark')).toEqual({
      column: 'updated_at',
      value: '2026-11-03 10:00:00',
    });
    expect(await targetRows('SELECT id, note FROM orders ORDER BY id')).toEqual([
      { id: 1, note: 'tab\there' },
      { id: 2, note: null },
      { id: 3, note: 'back\\slash' },
    ]);

    await src.query(`UPDATE orders SET amount = 21, updated_at = '2026-11-04 09:00' WHERE id = 2;
      INSERT INTO orders VALUES (4, '2026-11-05 08:00', 40, 'new')`);
    const second = await run(orders);
    expect(second.rowsRead).toBe(2);
    expect(await targetRows('SELECT id, amount::text FROM orders ORDER BY id')).toEqual([
      { id: 1, amount: '10.50' },
      { id: 2, amount: '21.00' },
      { id: 3, amount: '30.00' },
      { id: 4, amount: '40.00' },
    ]);
    const wm = await targetRows(`SELECT value, run_id FROM sluice.state WHERE pipeline = 'orders'`);
    expect(wm[0]).toMatchObject({ value: { value: '2026-11-05 08:00:00' }, run_id: second.runId });

    const third = await run(orders);
    expect(third.rowsRead).toBe(0);
    const after = await targetRows(`SELECT value, run_id FROM sluice.state WHERE pipeline = 'orders'`);
    expect(after[0]).toMatchObject({ value: { value: '2026-11-05 08:00:00' }, run_id: second.runId });
  });

  it('re-reads the lookback window so late rows arrive, and the upsert keeps one copy', async () => {
    await src.query(`CREATE TABLE events (id int PRIMARY KEY, day date NOT NULL, v int);
      INSERT INTO events SELECT g, date '2026-11-01' + g, g FROM generate_series(1, 10) g`);
    const withLookback = spec(
      'events-lookback',
      'table: events\nprimaryKey: [id]\nincrementalColumn: day\nlookback: 3d',
      'table: events_lb\nmode: merge\nkeys: [id]',
    );
    const without = spec(
      'events-plain',
      'table: events\nprimaryKey: [id]\nincrementalColumn: day',
      'table: events_plain\nmode: merge\nkeys: [id]',
    );
    await run(withLookback);
    await run(without);
    // A late row, dated two days before the watermark (2026-11-11), a late change to a recent row, and a
    // correction dated exactly on the window's first day (11-11 less 3 days: 11-08, id 7).
    await src.query(
      `INSERT INTO events VALUES (100, '2026-11-09', 100); UPDATE events SET v = -9 WHERE id = 9;
       UPDATE events SET v = -7 WHERE id = 7`,
    );
    const late = await run(withLookback);
    expect(late.rowsRead).toBe(5); // days 11-08 .. 11-11: ids 7, 8, 9, 10 and the late 100
    await run(without);
    expect(
      await targetRows('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM events_lb'),
    ).toEqual([{ n: 11, d: 11 }]);
    expect(await targetRows('SELECT v FROM events_lb WHERE id IN (7, 9, 100) ORDER BY id')).toEqual([
      { v: -7 },
      { v: -9 },
      { v: 100 },
    ]);
    // Without the window the late row is missed: that is what the window is for.
    expect(await targetRows('SELECT count(*)::int AS n FROM events_plain WHERE id = 100')).toEqual([
      { n: 0 },
    ]);
  });

  it('full refresh replaces the table, deleted source rows included', async () => {
    await src.query(`CREATE TABLE regions (code text PRIMARY KEY, name text);
      INSERT INTO regions VALUES ('n', 'North'), ('s', 'South'), ('e', 'East')`);
    const regions = spec('regions', 'table: regions\nmode: full_refresh', 'table: regions\nmode: replace');
    await run(regions);
    await src.query(
      `DELETE FROM regions WHERE code = 's'; UPDATE regions SET name = 'Norte' WHERE code = 'n'`,
    );
    await run(regions);
    expect(await targetRows('SELECT code, name FROM regions ORDER BY code')).toEqual([
      { code: 'e', name: 'East' },
      { code: 'n', name: 'Norte' },
    ]);
  });

  it('a sliding window takes only the window on its first run, its first day included, and re-reads from the watermark less the window after', async () => {
    await src.query(`CREATE TABLE recent (id int PRIMARY KEY, at date NOT NULL, v int);
      INSERT INTO recent VALUES (1, current_date - 30, 1), (2, current_date - 8, 2), (3, current_date - 7, 3),
        (4, current_date - 2, 4), (5, current_date, 5)`);
    const recent = spec(
      'recent',
      'table: recent\nincrementalColumn: at\nmode: sliding_window\nlookback: 7d',
      'table: recent\nmode: merge\nkeys: [id]',
    );
    await run(recent);
    expect(await targetRows('SELECT id FROM recent ORDER BY id')).toEqual([{ id: 3 }, { id: 4 }, { id: 5 }]);
    // A correction dated exactly on the first day of the window (watermark today, less 7 days) is read.
    await src.query('UPDATE recent SET v = -3 WHERE id = 3; UPDATE recent SET v = -2 WHERE id = 2');
    const again = await run(recent);
    expect(again.rowsRead).toBe(3);
    expect(await targetRows('SELECT id, v FROM recent ORDER BY id')).toEqual([
      { id: 3, v: -3 },
      { id: 4, v: 4 },
      { id: 5, v: 5 },
    ]);
  });

  it('resolves duplicate keys inside a batch (the last wins) and rejects a null key', async () => {
    const dupes = spec(
      'dupes',
      `query: "SELECT * FROM (VALUES (1, 'first'), (2, 'two'), (1, 'last'), (NULL, 'nokey')) AS v(id, name)"\nprimaryKey: [id]`,
      'table: dupes\nmode: merge\nkeys: [id]',
    );
    const summary = await run(dupes);
    expect(summary.status).toBe('succeeded');
    expect(summary.rowsRejected).toBe(1);
    expect(await targetRows('SELECT id, name FROM dupes ORDER BY id')).toEqual([
      { id: 1, name: 'last' },
      { id: 2, name: 'two' },
    ]);
    expect(
      await targetRows(
        `SELECT file, column_name, rule, message FROM sluice.rejects WHERE run_id = '${summary.runId}'`,
      ),
    ).toEqual([{ file: 'query', column_name: 'id', rule: 'key', message: 'key column id is null' }]);
  });
});

describe('failures, retries and locks', () => {
  beforeAll(async () => {
    await src.query(`CREATE TABLE big (id int PRIMARY KEY, updated_at timestamp NOT NULL, payload text);
      INSERT INTO big SELECT g, timestamp '2026-01-01' + g * interval '1 minute', repeat('x', 50) FROM generate_series(1, 3000) g`);
  });

  // A read slowed down on the server (½ ms a row), so that a test can act while it runs.
  const slowQuery =
    'query: "SELECT b.* FROM big b CROSS JOIN LATERAL (SELECT 1 FROM pg_sleep(0.0005 + b.id * 0)) AS s(x)"\nprimaryKey: [id]\nincrementalColumn: updated_at\nbatchSize: 100';

  async function killSourceReadWhenBusy(): Promise<void> {
    for (let i = 0; i < 600; i++) {
      const { rows } = await src.query<{ pid: number }>(
        // This file's source database only: other test files read from the same server at the same time.
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sluice-source' AND query LIKE 'COPY%' AND state = 'active'`,
      );
      if (rows[0]) {
        await new Promise((r) => setTimeout(r, 300)); // well inside the read
        await src.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
        return;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the source read never started');
  }

  it('a killed source connection fails the run, leaves the watermark and the table as they were; a rerun completes once', async () => {
    const big = spec(
      'big-once',
      slowQuery,
      'table: big_once\nmode: merge\nkeys: [id]',
      'run:\n  retry:\n    attempts: 1',
    );
    const [failed] = await Promise.all([run(big), killSourceReadWhenBusy()]);
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(/terminat|connection/i);
    expect(await getState(db, 'big-once', 'watermark')).toBeUndefined();
    expect(await targetRows(`SELECT to_regclass('big_once') IS NULL AS gone`)).toEqual([{ gone: true }]);

    const rerun = await run(big);
    expect(rerun.status).toBe('succeeded');
    expect(await targetRows('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM big_once')).toEqual(
      [{ n: 3000, d: 3000 }],
    );
    expect(await getState(db, 'big-once', 'watermark')).toMatchObject({ value: '2026-01-03 02:00:00' });
  });

  it('retries a transient error (a killed connection) and does not retry a permanent one', async () => {
    const retried = spec(
      'big-retry',
      slowQuery,
      'table: big_retry\nmode: merge\nkeys: [id]',
      'run:\n  retry:\n    attempts: 3\n    baseDelay: 50ms',
    );
    const [summary] = await Promise.all([run(retried), killSourceReadWhenBusy()]);
    expect(summary.status).toBe('succeeded');
    expect(await targetRows('SELECT count(*)::int AS n FROM big_retry')).toEqual([{ n: 3000 }]);
    const warnings = await targetRows(
      `SELECT message FROM sluice.logs WHERE run_id = '${summary.runId}' AND level = 'warn'`,
    );
    expect(warnings.map((w) => w.message as string).join('\n')).toMatch(
      /loading query failed \(attempt 1\), retrying/,
    );

    const broken = spec(
      'broken',
      'query: "SELECT no_such_column FROM big"',
      'table: broken\nmode: append',
      'run:\n  retry:\n    attempts: 3\n    baseDelay: 50ms',
    );
    const failed = await run(broken);
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(/no_such_column/);
    const retries = await targetRows(
      `SELECT count(*)::int AS n FROM sluice.logs WHERE run_id = '${failed.runId}' AND message LIKE '%retrying%'`,
    );
    expect(retries).toEqual([{ n: 0 }]);
  });

  it('two concurrent runs of one pipeline: one runs, the other refuses saying which run holds it', async () => {
    const big = spec('big-lock', slowQuery, 'table: big_lock\nmode: merge\nkeys: [id]');
    const first = run(big);
    // Wait until the first holds its claim, then start the second.
    const claimed = `SELECT id AS run_id FROM sluice.runs WHERE pipeline = 'big-lock' AND status = 'running'`;
    for (let i = 0; i < 200; i++) {
      if ((await targetRows(claimed)).length > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const lease = (await targetRows(claimed))[0];
    await expect(run(big)).rejects.toThrow(/already running since .*, run [0-9a-f-]{36}/);
    const summary = await first;
    expect(summary.status).toBe('succeeded');
    expect(summary.runId).toBe(lease?.run_id);
    expect(await targetRows(claimed)).toEqual([]);
  });

  it('cleanup reaps a run whose heartbeat stopped, releasing its claim; the next run starts afresh', async () => {
    const stale = '00000000-0000-4000-8000-00000000dead';
    await db.query(
      `INSERT INTO sluice.runs (id, pipeline, status, as_of, started_at, heartbeat_at, max_run_ms, host, pid, locked_by)
      VALUES ($1, 'ghost', 'running', current_date, now() - interval '2 hours', now() - interval '1 hour', 600000, 'elsewhere', 4242, 'elsewhere:4242:x')`,
      [stale],
    );
    // A run that is late but whose process (this one, on this host) is still there is left alone.
    await db.query(
      `INSERT INTO sluice.runs (id, pipeline, status, as_of, heartbeat_at, max_run_ms, host, pid, locked_by)
      VALUES ('00000000-0000-4000-8000-0000000a11fe', 'alive', 'running', current_date, now() - interval '1 hour', 1000, $1, $2, 'here')`,
      [os.hostname(), process.pid],
    );
    const result = await cleanupStaleRuns(db);
    expect(result.reaped.map((r) => r.id)).toEqual([stale]);
    expect(result.alive.map((r) => r.pipeline)).toEqual(['alive']);
    expect(
      await targetRows(
        `SELECT status, reaped_at IS NOT NULL AS reaped, error FROM sluice.runs WHERE id = '${stale}'`,
      ),
    ).toEqual([
      {
        status: 'failed',
        reaped: true,
        error: expect.stringMatching(/reaped by cleanup: no heartbeat since/),
      },
    ]);
    expect(
      await targetRows(`SELECT 1 FROM sluice.runs WHERE pipeline = 'ghost' AND locked_by IS NOT NULL`),
    ).toEqual([]);
    expect(await targetRows(`SELECT status FROM sluice.runs WHERE pipeline = 'alive'`)).toEqual([
      { status: 'running' },
    ]);
  });

  it('stops a run that outlasts its maximum run time, committing nothing of the unit', async () => {
    const bounded = spec(
      'big-bounded',
      slowQuery,
      'table: big_bounded\nmode: merge\nkeys: [id]',
      'run:\n  maxRunTime: 1s\n  retry:\n    attempts: 1',
    );
    const summary = await run(bounded);
    expect(summary.status).toBe('failed');
    expect(summary.error?.message).toMatch(/longer than its maximum run time \(1s\)/);
    expect(await getState(db, 'big-bounded', 'watermark')).toBeUndefined();
    expect(await targetRows(`SELECT to_regclass('big_bounded') IS NULL AS gone`)).toEqual([{ gone: true }]);
    expect(
      await targetRows(`SELECT 1 FROM sluice.runs WHERE pipeline = 'big-bounded' AND locked_by IS NOT NULL`),
    ).toEqual([]);
  });

  it('skips a run inside its refresh window, leaving nothing marked running, unless forced', async () => {
    const windowed = spec(
      'windowed',
      'table: regions\nmode: full_refresh',
      'table: regions_w\nmode: replace',
      'run:\n  refreshEvery: 6h',
    );
    expect((await run(windowed)).status).toBe('succeeded');
    const skipped = await run(windowed);
    expect(skipped.status).toBe('skipped');
    expect(skipped.skipReason).toMatch(/refresh every 6h/);
    expect(
      await targetRows(
        `SELECT status, count(*)::int AS n FROM sluice.runs WHERE pipeline = 'windowed' GROUP BY status`,
      ),
    ).toEqual([{ status: 'succeeded', n: 1 }]);
    expect((await run(windowed, true)).status).toBe('succeeded');
  });

  it('a group runs its pipelines side by side; one failing does not stop the others', async () => {
    const good = spec(
      'g-good',
      'table: regions\nmode: full_refresh',
      'table: g_regions\nmode: replace',
      'group: nightly',
    );
    const bad = spec(
      'g-bad',
      'table: no_such_table',
      'table: g_bad\nmode: append',
      'group: nightly\nrun:\n  retry:\n    attempts: 1',
    );
    const other = spec(
      'g-other',
      'table: events\nmode: full_refresh',
      'table: g_events\nmode: replace',
      'group: nightly',
    );
    const results = await runGroup([good, bad, other], { db, registry, home, maxConcurrent: 2 });
    expect(results.map((r) => [r.pipeline, r.status])).toEqual([
      ['g-good', 'succeeded'],
      ['g-bad', 'failed'],
      ['g-other', 'succeeded'],
    ]);
    expect(results[1]?.error?.message).toMatch(/no_such_table/);
    expect(await targetRows('SELECT count(*)::int AS n FROM g_events')).toEqual([{ n: 11 }]);
  });
});
