import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import type { LogEntry } from '../../src/store/step-log.js';
import { runPipelineFile, tempDir } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

describe('a load whose connection dies', () => {
  let store: TestStore;
  let db: Database;
  beforeAll(async () => {
    store = await createTestStore();
    db = store.db;
  });
  afterAll(async () => {
    await store?.close();
  });

  it('is retried in a new transaction and loads once', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'in'));
    await writeFile(path.join(dir, 'in', 'a.csv'), 'id,name\n1,ann\n2,bob\n');
    const file = path.join(dir, 'p.yaml');
    // The SQL step sleeps so that the test can cut the connection in the middle of the file's transaction.
    await writeFile(
      file,
      `name: retry
source: { url: ${path.join(dir, 'in')} }
parse: { type: csv }
load: { type: postgres, table: people, afterLoad: "SELECT pg_sleep(1.5)" }
`,
    );
    const admin = new pg.Client({ connectionString: store.url! });
    await admin.connect();
    let killed = 0;
    const killer = (async () => {
      for (let i = 0; i < 200 && killed === 0; i++) {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE datname = current_database() AND query LIKE '%pg_sleep(1.5)%' AND pid <> pg_backend_pid()`,
        );
        killed += rows.filter((r: { ok: boolean }) => r.ok).length;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const logs: LogEntry[] = [];
    const summary = await runPipelineFile(db, file, { env: {}, home: dir, onLog: (e) => logs.push(e) });
    await killer;
    await admin.end();
    expect(killed).toBe(1);
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 2 });
    expect(
      logs.some((e) => e.level === 'warn' && /loading a\.csv failed \(attempt 1\), retrying/.test(e.message)),
    ).toBe(true);
    expect((await db.query('SELECT id, name FROM people ORDER BY id')).rows).toEqual([
      { id: '1', name: 'ann' },
      { id: '2', name: 'bob' },
    ]);
    expect(
      (await db.query(`SELECT count(*)::int AS n FROM sluice.files WHERE status = 'loaded'`)).rows,
    ).toEqual([{ n: 1 }]);
  });
});
