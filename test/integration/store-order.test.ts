import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/store/database.js';
import { listDatasets } from '../../src/store/datasets.js';
import { migrate } from '../../src/store/migrate.js';
import { listReportSends } from '../../src/store/reports.js';
import { runFileViews, runLogPage } from '../../src/store/service-views.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

// Ids are read as text: an ORDER BY that named the text output column put 10 before 9. The rows below have
// ids on both sides of a digit boundary, so a text order shows.
describe('lists in id order read ids as numbers', () => {
  let testDb: TestDatabase;
  let db: Database;
  const runId = randomUUID();
  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openPostgres(testDb.url);
    await migrate(db);
    await db.query(
      `INSERT INTO sluice.runs (id, pipeline, status, as_of) VALUES ($1, 'p', 'succeeded', '2026-11-30')`,
      [runId],
    );
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it("keeps a run's step log in order, also across pages", async () => {
    for (const id of [8, 9, 10, 11, 12]) {
      await db.query(
        `INSERT INTO sluice.logs (id, run_id, pipeline, level, step, message) VALUES ($1, $2, 'p', 'info', $3, $4)`,
        [id, runId, id, `entry ${id}`],
      );
    }
    const all = await runLogPage(db, runId, { limit: 100 });
    expect(all.map((e) => e.step)).toEqual([8, 9, 10, 11, 12]);
    const page = await runLogPage(db, runId, { after: '9', limit: 2 });
    expect(page.map((e) => e.message)).toEqual(['entry 10', 'entry 11']);
  });

  it("keeps a run's files in the order it met them", async () => {
    for (const id of [9, 10]) {
      await db.query(
        `INSERT INTO sluice.files (id, pipeline, run_id, source, name, size, sha256, status)
         VALUES ($1, 'p', $2, 'inbox', $3, 1, $4, 'loaded')`,
        [id, runId, `file-${id}.csv`, `hash-${id}`],
      );
    }
    expect((await runFileViews(db, runId)).map((f) => f.name)).toEqual(['file-9.csv', 'file-10.csv']);
  });

  it('lists datasets and report sends newest first', async () => {
    for (const id of [9, 10]) {
      await db.query(
        `INSERT INTO sluice.datasets (id, label, rule, target_table, status, file_name)
         VALUES ($1, 'sales', 'r', 't', 'inactive', $2)`,
        [id, `file-${id}.csv`],
      );
      await db.query(
        `INSERT INTO sluice.report_sends (id, report, sent_at, recipients, status)
         VALUES ($1, 'daily', '2026-11-30 08:00+00', '[]', 'sent')`,
        [id],
      );
    }
    expect((await listDatasets(db)).map((d) => d.id)).toEqual(['10', '9']);
    expect((await listReportSends(db, 'daily')).map((s) => s.id)).toEqual(['10', '9']);
  });
});
