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
  lookbackDays: 1
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

    // A change, a new row, and a late row inside the one-day lookback.
    await maria.query(`UPDATE visits SET amount = 9.99, seen_at = '2026-11-04 08:00:00' WHERE id = 1`);
    await maria.query(
      `INSERT INTO visits VALUES (4, '2026-11-04 09:00:00', 4, 4, 'new'), (5, '2026-11-03 12:00:00', 5, 5, 'late')`,
    );
    const second = await runPipeline({ db, spec: pipeline, registry, home });
    expect(second.rowsRead).toBe(4); // 3 (inside the lookback), 5 (late), 1 (changed), 4 (new)
    expect((await db.query('SELECT id, amount::text FROM visits ORDER BY id')).rows).toEqual([
      { id: 1, amount: '9.99' },
      { id: 2, amount: '2.00' },
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
