import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEntries } from '../../src/runner/archive.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { runPipelineFile, tempDir, VISITS_PIPELINE } from '../helpers/pipeline-harness.js';
import { startSftpServer, type SftpServer } from '../helpers/sshd.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { visitsFile } from '../helpers/visits-fixtures.js';

let server: SftpServer;
let testDb: TestDatabase;

beforeAll(async () => {
  [server, testDb] = await Promise.all([startSftpServer(), createTestDatabase()]);
});
afterAll(async () => {
  await server?.stop();
  await testDb?.drop();
});

async function remoteInbox(name: string, files: Record<string, string>) {
  const dir = path.join(server.root, name);
  await mkdir(dir);
  await chmod(dir, 0o777);
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(dir, file), content);
  return dir;
}

describe('visits pipeline over sftp', () => {
  it('loads over sftp, removes the loaded files at the source and moves a bad layout to rejected/', async () => {
    const dir = await remoteInbox('visits', {
      'report_1.txt': visitsFile([{ email: 'Ana@Example.com', sent: '01/11/2026 10:00' }]),
      'report_2.txt': visitsFile([{ email: 'bob@example.com', sent: '02/11/2026 10:00' }, 'bad,row'], {
        secondHeader: 'jyv',
      }),
      'report_3.txt': 'email,wrong\n',
      'other.csv': 'not a report',
    });
    const home = await tempDir();
    const backup = path.join(home, 'backup');
    const db: Database = await openStore({ databaseUrl: testDb.url, home });
    try {
      const summary = await runPipelineFile(db, VISITS_PIPELINE, {
        env: {
          VISITS_SOURCE: server.url(dir),
          VISITS_SFTP_PASSWORD: server.password,
          VISITS_SFTP_HOST_KEY: server.hostKeyFingerprint,
          VISITS_BACKUP_DIR: backup,
        },
        home,
        asOf: '2026-11-27',
      });
      expect(summary).toMatchObject({
        status: 'succeeded',
        filesLoaded: 2,
        filesRejected: 1,
        rowsLoaded: 2,
        rowsRejected: 1,
      });
      expect((await db.query('SELECT email FROM visitor ORDER BY email')).rows).toEqual([
        { email: 'ana@example.com' },
        { email: 'bob@example.com' },
      ]);
      const ledger = await db.query<{ source: string }>('SELECT DISTINCT source FROM sluice.files');
      expect(ledger.rows).toEqual([{ source: server.url(dir) }]);
    } finally {
      await db.close();
    }
    expect((await readdir(dir)).sort()).toEqual(['other.csv', 'rejected']);
    expect(await readdir(path.join(dir, 'rejected'))).toEqual(['report_3.txt']);
    expect((await readEntries(path.join(backup, 'visitas_20261127.zip'))).map((e) => e.name)).toEqual([
      'report_1.txt',
      'report_2.txt',
    ]);
    // Downloads were temporary: nothing is left in Sluice's scratch space.
    expect(await readdir(path.join(home, 'work'))).toEqual([]);
  });

  it('refuses a wrong host key with a clear message, touching nothing', async () => {
    const dir = await remoteInbox('visits-wrong-key', {
      'report_1.txt': visitsFile([{ email: 'a@example.com', sent: '01/11/2026 10:00' }]),
    });
    const home = await tempDir();
    const result = await runCli(['run', VISITS_PIPELINE, '--as-of', '2026-11-27'], {
      DATABASE_URL: testDb.url,
      SLUICE_HOME: home,
      VISITS_SOURCE: server.url(dir),
      VISITS_SFTP_PASSWORD: server.password,
      VISITS_SFTP_HOST_KEY: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      VISITS_BACKUP_DIR: path.join(home, 'backup'),
    });
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(server.hostKeyFingerprint);
    expect(result.stdout + result.stderr).not.toContain(server.password);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace for an expected failure
    expect(await readdir(dir)).toEqual(['report_1.txt']);
  });
});
