import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { StepLog } from '../../src/store/step-log.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('step log', () => {
  let testDb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openPostgres(testDb.url);
    await migrate(db);
  });
  afterAll(async () => {
    await testDb.drop();
  });

  it('numbers steps and records step and total runtimes in sluice.logs', async () => {
    const log = new StepLog(db, { runId: null, pipeline: 'p', fallbackDir: await tempDir() });
    log.info('first');
    await new Promise((r) => setTimeout(r, 30));
    log.warn('second', { n: 2 });
    log.debug('not stored unless verbose');
    await log.flush();
    const { rows } = await db.query<{
      step: number;
      step_ms: number;
      total_ms: number;
      level: string;
      message: string;
      data: unknown;
    }>(
      `SELECT step, step_ms, total_ms, level, message, data FROM sluice.logs WHERE pipeline = 'p' ORDER BY id`,
    );
    expect(rows.map((r) => [r.step, r.level, r.message, r.data])).toEqual([
      [1, 'info', 'first', null],
      [2, 'warn', 'second', { n: 2 }],
    ]);
    expect(rows[1]!.step_ms).toBeGreaterThanOrEqual(25);
    expect(rows[1]!.total_ms).toBeGreaterThanOrEqual(rows[1]!.step_ms);
  });

  it('falls back to a log file when the database is unreachable, and never throws', async () => {
    await db.close(); // the database is gone from here on
    const dir = await tempDir();
    const log = new StepLog(db, {
      runId: '00000000-0000-0000-0000-000000000002',
      pipeline: 'p',
      fallbackDir: dir,
    });
    log.error('the load failed');
    await log.flush();
    const [file] = await readdir(dir);
    const entry = JSON.parse((await readFile(path.join(dir, file!), 'utf8')).trim()) as Record<
      string,
      unknown
    >;
    expect(entry).toMatchObject({
      level: 'error',
      step: 1,
      message: 'the load failed',
      runId: '00000000-0000-0000-0000-000000000002',
    });
    expect(entry.fallbackBecause).toBeTruthy();
  });
});
