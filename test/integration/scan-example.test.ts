import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSite } from '../../examples/scan/site.mjs';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { REPO, runPipelineFile, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const SCAN = path.join(REPO, 'examples/scan/scan.yaml');
const IMPORT = path.join(REPO, 'examples/scan/import.yaml');

// The scan example as shipped: its own event site on loopback, the scan, then the import of the files; on
// the embedded database (the default a user gets) and on a server.
describe.each(['pglite', 'postgres'] as const)('examples/scan on %s', (kind) => {
  let testDb: TestDatabase | undefined;
  let db: Database;
  let home: string;
  let site: { origin: string; requests: string[]; close(): Promise<void> };
  let env: Record<string, string>;

  beforeAll(async () => {
    home = await tempDir('sluice-scan-example-');
    if (kind === 'postgres') testDb = await createTestDatabase();
    db = await openStore({ ...(testDb ? { databaseUrl: testDb.url } : {}), home });
    site = await startSite();
    env = {
      SCAN_SITE: site.origin,
      SCAN_INBOX: path.join(home, 'inbox'),
      SCAN_REPORTS: path.join(home, 'reports'),
    };
  });

  afterAll(async () => {
    await site.close();
    await db.close();
    await testDb?.drop();
  });

  it('dry run: checks the pages but downloads no file and writes no report', async () => {
    const requestsBefore = site.requests.length;
    const logged: string[] = [];
    const dry = await runPipelineFile(db, SCAN, {
      env,
      home,
      dryRun: true,
      onLog: (e) => logged.push(e.message),
    });
    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, rowsLoaded: 6 });
    expect(existsSync(env.SCAN_INBOX!)).toBe(false);
    expect(existsSync(env.SCAN_REPORTS!)).toBe(false);
    const asked = site.requests.slice(requestsBefore);
    expect(asked.filter((url) => url.startsWith('/files/'))).toEqual([]);
    expect(asked).toHaveLength(6);
    expect(logged).toEqual(
      expect.arrayContaining([
        'dry run: no CSV report written',
        'dry run: 2 files offered for download, none fetched',
      ]),
    );
    expect((await db.query('SELECT count(*)::int AS n FROM sluice.state')).rows[0]).toEqual({ n: 0 });
  });

  it('scans the site, downloads the attendee files, imports them; a rerun brings nothing new', async () => {
    const scan = await runPipelineFile(db, SCAN, { env, home });
    expect(scan).toMatchObject({
      status: 'succeeded',
      rowsLoaded: 6,
      outcomes: ['downloaded 2 files, 0 unchanged'],
    });
    expect(await logMessages(db, scan.runId)).toContain('downloaded 2 files, 0 unchanged');
    const { rows: events } = await db.query(
      'SELECT id, status, title, "exists", private, downloadable, file, download, error FROM event_scan ORDER BY id',
    );
    expect(events).toEqual([
      row('101', 200, 'Conference 101', true, false, true, 'event_101_attendees-101.csv', 'downloaded'),
      row('102', 200, 'Conference 102', true, false, false, null, null),
      row('103', 200, 'Private event', true, true, false, null, null),
      row('104', 200, 'MeetMax', false, false, false, null, null),
      row('105', 404, 'Not found', false, false, false, null, null),
      row('106', 200, 'Conference 106', true, false, true, 'event_106_attendees-106.csv', 'downloaded'),
    ]);
    expect(await readdir(env.SCAN_REPORTS!)).toEqual([expect.stringMatching(/^\d{8}_\d{6}_scan\.csv$/)]);

    const imported = await runPipelineFile(db, IMPORT, { env, home });
    expect(imported).toMatchObject({ status: 'succeeded', filesLoaded: 2, rowsLoaded: 3, rowsRejected: 0 });
    const { rows: attendees } = await db.query(
      'SELECT email, name, company, source_file FROM attendees ORDER BY email',
    );
    expect(attendees).toEqual([
      {
        email: 'ana@example.com',
        name: 'Ana Ruiz',
        company: 'Acme',
        source_file: 'event_101_attendees-101.csv',
      },
      {
        email: 'bo@example.com',
        name: 'Bo Lind',
        company: 'Globex',
        source_file: 'event_101_attendees-101.csv',
      },
      {
        email: 'cy@example.com',
        name: 'Cy Young',
        company: 'Initech',
        source_file: 'event_106_attendees-106.csv',
      },
    ]);
    expect((await readdir(env.SCAN_INBOX!)).sort()).toEqual(['processed']);

    const rescan = await runPipelineFile(db, SCAN, { env, home });
    expect(rescan.status).toBe('succeeded');
    expect(await logMessages(db, rescan.runId)).toContain('downloaded 0 files, 2 unchanged');
    const { rows: again } = await db.query<{ download: string | null }>(
      'SELECT download FROM event_scan ORDER BY id',
    );
    expect(again.map((r) => r.download)).toEqual(['unchanged', null, null, null, null, 'unchanged']);
    expect((await readdir(env.SCAN_INBOX!)).sort()).toEqual(['processed']);
    const reimport = await runPipelineFile(db, IMPORT, { env, home });
    expect(reimport).toMatchObject({ status: 'succeeded', filesLoaded: 0, rowsLoaded: 0 });
    expect((await db.query('SELECT count(*)::int AS n FROM attendees')).rows[0]).toEqual({ n: 3 });
  });
});

async function logMessages(db: Database, runId: string): Promise<string[]> {
  const { rows } = await db.query<{ message: string }>(
    'SELECT message FROM sluice.logs WHERE run_id = $1 ORDER BY step',
    [runId],
  );
  return rows.map((r) => r.message);
}

function row(
  id: string,
  status: number,
  title: string,
  exists: boolean,
  isPrivate: boolean,
  downloadable: boolean,
  file: string | null,
  download: string | null,
) {
  return { id, status, title, exists, private: isPrivate, downloadable, file, download, error: null };
}
