import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePipeline, type PipelineSpec } from '../../src/core/spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { runPipeline } from '../../src/runner/run-pipeline.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { getState } from '../../src/store/state.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../helpers/test-mysql-database.js';

// MariaDB as the source and as the target, PostgreSQL as the control plane (and target of the first test).
let maria: TestMysqlDatabase;
let mariaTarget: TestMysqlDatabase;
let control: TestDatabase;
let db: Database;
let home: string;
const registry = createRegistry();

beforeAll(async () => {
  [maria, mariaTarget, control] = await Promise.all([
    createTestMysqlDatabase(),
    createTestMysqlDatabase(),
    createTestDatabase(),
  ]);
  home = await tempDir('sluice-sync-maria-');
  db = await openStore({ databaseUrl: control.url, home });
  await maria.query(`CREATE TABLE visits (
      id int PRIMARY KEY, seen_at datetime NOT NULL, amount decimal(12,2), big bigint, note text)`);
  await maria.query(`INSERT INTO visits VALUES
      (1, '2026-11-01 10:00:00', 1.50, 9007199254740993, 'tab\there'),
      (2, '2026-11-02 10:00:00', 2.00, NULL, NULL),
      (3, '2026-11-03 10:00:00', 3.25, 1, 'ñandú')`);
});

afterAll(async () => {
  await db?.close();
  await maria?.drop();
  await mariaTarget?.drop();
  await control?.drop();
});

function spec(name: string, body: string): PipelineSpec {
  return parsePipeline(`name: ${name}\n${body}`, {
    env: { MARIA_URL: maria.url, MARIA_TARGET_URL: mariaTarget.url },
    registry,
  });
}

describe('sql source on MariaDB', () => {
  it('reads incrementally into PostgreSQL, exact decimals and big integers included', async () => {
    const pipeline = spec(
      'maria-visits',
      `source:
  type: sql
  url: \${MARIA_URL}
  table: visits
  primaryKey: [id]
  incrementalColumn: seen_at
  lookback: 1d
load:
  type: postgres
  table: visits
  mode: merge
  keys: [id]
`,
    );
    const first = await runPipeline({ db, spec: pipeline, registry, home });
    expect(first.status).toBe('succeeded');
    expect(first.rowsLoaded).toBe(3);
    expect(await getState(db, 'maria-visits', 'watermark')).toEqual({
      column: 'seen_at',
      value: '2026-11-03 10:00:00',
    });
    const rows = (
      await db.query('SELECT id, amount::text, big::text, note, seen_at::text FROM visits ORDER BY id')
    ).rows;
    expect(rows).toEqual([
      { id: 1, amount: '1.50', big: '9007199254740993', note: 'tab\there', seen_at: '2026-11-01 10:00:00' },
      { id: 2, amount: '2.00', big: null, note: null, seen_at: '2026-11-02 10:00:00' },
      { id: 3, amount: '3.25', big: '1', note: 'ñandú', seen_at: '2026-11-03 10:00:00' },
    ]);

    // A change, a new row, a late row inside the one-day lookback, and a correction of the row dated exactly
    // on the lookback's first moment (watermark 11-03 10:00 less one day: id 2).
    await maria.query(`UPDATE visits SET amount = 9.99, seen_at = '2026-11-04 08:00:00' WHERE id = 1`);
    await maria.query(`UPDATE visits SET amount = 2.22 WHERE id = 2`);
    await maria.query(
      `INSERT INTO visits VALUES (4, '2026-11-04 09:00:00', 4, 4, 'new'), (5, '2026-11-03 12:00:00', 5, 5, 'late')`,
    );
    const second = await runPipeline({ db, spec: pipeline, registry, home });
    expect(second.rowsRead).toBe(5); // 2 (on the boundary), 3 (inside the lookback), 5 (late), 1, 4
    expect((await db.query('SELECT id, amount::text FROM visits ORDER BY id')).rows).toEqual([
      { id: 1, amount: '9.99' },
      { id: 2, amount: '2.22' },
      { id: 3, amount: '3.25' },
      { id: 4, amount: '4.00' },
      { id: 5, amount: '5.00' },
    ]);
    expect(await getState(db, 'maria-visits', 'watermark')).toMatchObject({ value: '2026-11-04 09:00:00' });
  });

  it('syncs MariaDB to MariaDB with the mysql loader, a rerun adding nothing', async () => {
    const pipeline = spec(
      'maria-to-maria',
      `source:
  type: sql
  url: \${MARIA_URL}
  table: visits
  primaryKey: [id]
  incrementalColumn: seen_at
load:
  type: mysql
  url: \${MARIA_TARGET_URL}
  table: visits_copy
  mode: merge
  keys: [id]
`,
    );
    expect((await runPipeline({ db, spec: pipeline, registry, home })).status).toBe('succeeded');
    const again = await runPipeline({ db, spec: pipeline, registry, home });
    expect(again.rowsRead).toBe(0);
    const copied = await mariaTarget.query<{ n: string; d: string }>(
      'SELECT count(*) AS n, count(DISTINCT id) AS d FROM visits_copy',
    );
    expect(copied).toEqual([{ n: '5', d: '5' }]); // bigNumberStrings: counts come as text
  });
});

describe('sql source on MariaDB: failures', () => {
  beforeAll(async () => {
    await maria.query('CREATE TABLE big (id int PRIMARY KEY, updated_at datetime NOT NULL, payload text)');
    const values = Array.from({ length: 2000 }, (_, i) => {
      const at = new Date(Date.UTC(2026, 0, 1) + (i + 1) * 60_000)
        .toISOString()
        .slice(0, 19)
        .replace('T', ' ');
      return `(${i + 1}, '${at}', '${'x'.repeat(40)}')`;
    });
    await maria.query(`INSERT INTO big VALUES ${values.join(', ')}`);
  });

  // Slowed down on the server (SLEEP per row) so that the test can kill the read while it streams.
  const slow = (name: string, attempts: number) =>
    spec(
      name,
      `run:
  retry:
    attempts: ${attempts}
    baseDelay: 50ms
source:
  type: sql
  url: \${MARIA_URL}
  query: "SELECT b.* FROM big b WHERE SLEEP(0.001) = 0"
  primaryKey: [id]
  incrementalColumn: updated_at
  batchSize: 100
load:
  type: postgres
  table: ${name.replaceAll('-', '_')}
  mode: merge
  keys: [id]
`,
    );

  async function killReadWhenStreaming(): Promise<void> {
    for (let i = 0; i < 800; i++) {
      const rows = await maria.query<{ ID: number }>(
        // This file's source database only: other test files read from the same server at the same time.
        `SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE 'SELECT * FROM (SELECT b.*%'`,
      );
      if (rows[0]) {
        await new Promise((r) => setTimeout(r, 300));
        await maria.query(`KILL ${Number(rows[0].ID)}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the source read never started');
  }

  it('a killed source connection leaves the watermark where it was; a rerun completes with no duplicates', async () => {
    const pipeline = slow('maria-killed', 1);
    const [failed] = await Promise.all([
      runPipeline({ db, spec: pipeline, registry, home }),
      killReadWhenStreaming(),
    ]);
    expect(failed.status).toBe('failed');
    expect(await getState(db, 'maria-killed', 'watermark')).toBeUndefined();
    expect((await db.query(`SELECT to_regclass('maria_killed') IS NULL AS gone`)).rows).toEqual([
      { gone: true },
    ]);

    const rerun = await runPipeline({ db, spec: pipeline, registry, home });
    expect(rerun.status).toBe('succeeded');
    expect(
      (await db.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM maria_killed')).rows,
    ).toEqual([{ n: 2000, d: 2000 }]);
    expect(await getState(db, 'maria-killed', 'watermark')).toMatchObject({ value: '2026-01-02 09:20:00' });
  });

  it('retries the killed read on a fresh connection', async () => {
    const [summary] = await Promise.all([
      runPipeline({ db, spec: slow('maria-retried', 3), registry, home }),
      killReadWhenStreaming(),
    ]);
    expect(summary.status).toBe('succeeded');
    expect((await db.query('SELECT count(*)::int AS n FROM maria_retried')).rows).toEqual([{ n: 2000 }]);
    const { rows } = await db.query<{ message: string }>(
      `SELECT message FROM sluice.logs WHERE run_id = $1 AND level = 'warn'`,
      [summary.runId],
    );
    expect(rows.map((r) => r.message).join('\n')).toMatch(/failed \(attempt 1\), retrying/);
  });
});
