import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReportsFile, saveReports, sendReport } from '../../src/notify/reports.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { REPO, runPipelineFile, tempDir, VISITS_PIPELINE } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

// Every example runs here as shipped, on its own sample data.
describe('examples', () => {
  let testDb: TestDatabase;
  let db: Database;
  let home: string;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    home = await tempDir();
    db = await openStore({ databaseUrl: testDb.url, home });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it('visits loads its sample reports, and the reports example mails over its tables', async () => {
    const inbox = path.join(home, 'inbox');
    await cp(path.join(REPO, 'examples/visits/data'), inbox, { recursive: true });
    const summary = await runPipelineFile(db, VISITS_PIPELINE, {
      env: { VISITS_SOURCE: inbox, VISITS_BACKUP_DIR: path.join(home, 'backup') },
      home,
      asOf: '2026-11-27',
    });
    expect(summary).toMatchObject({
      status: 'succeeded',
      filesLoaded: 3,
      filesRejected: 1,
      rowsLoaded: 23,
      rowsRejected: 6,
    });

    const env = { REPORT_TO: 'ops@example.com', REPORT_FROM: 'sluice@example.com', SMTP_HOST: '127.0.0.1' };
    await saveReports(db, await readReportsFile(path.join(REPO, 'examples/reports/reports.yaml'), env));
    const out = path.join(home, 'out');
    const result = await sendReport(db, 'visits-daily', { logger: quiet, env, dryRun: true, outDir: out });
    expect(result.status).toBe('dry_run');
    const mail = await simpleParser(await readFile(result.emlPath!));
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM visitor');
    expect(mail.subject).toBe(`Visits: ${rows[0]!.n} visitors`);
    expect(mail.html).toContain('ana.garcia@example.com');
    expect(mail.html).toContain('not a valid e-mail address');
    expect(mail.attachments.map((a) => a.filename)).toEqual([
      expect.stringMatching(/^visitors_\d{8}_\d{6}\.csv$/),
    ]);
  });
});
