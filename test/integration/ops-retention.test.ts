import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// `sluice maintenance` on a real PostgreSQL: it removes exactly the history older than each kind's age
// (in batches), never what dedupe or watermarks depend on, and exactly the old matching files of a folder.

let store: TestStore;
beforeAll(async () => {
  store = await createTestStore({ prefix: 'sluice-ops-retention-' });
});
afterAll(async () => {
  await store?.close();
});

const DAY = 86_400_000;

async function ids(sql: string): Promise<string[]> {
  const { rows } = await store.db.query<{ id: string }>(sql);
  return rows.map((r) => String(r.id)).sort();
}

describe('retention', () => {
  it('removes exactly what is older than the limit and nothing else', async () => {
    const db = store.db;
    const run = (id: string, pipeline: string, days: number, status = 'succeeded') =>
      db.query(
        `INSERT INTO sluice.runs (id, pipeline, status, as_of, started_at, ended_at)
         VALUES ($1, $2, $3, current_date, now() - $4 * interval '1 day' - interval '1 hour',
                 CASE WHEN $3 = 'running' THEN NULL ELSE now() - $4 * interval '1 day' END)`,
        [id, pipeline, status, days],
      );
    const uuid = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
    const [A, B, C, D, E, F, G, H] = [1, 2, 3, 4, 5, 6, 7, 8].map(uuid) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    await run(A, 'p', 200); // old, nothing points at it: purged
    await run(B, 'p', 200); // its loaded file keeps it
    await run(C, 'p', 200); // a watermark names it
    await run(G, 'p', 200); // its rejected file is still pointed at by a young reject
    await run(H, 'p', 200); // its only file is an old rejected one: both go
    await run(D, 'p', 10); // young (and the latest of p)
    await run(E, 'q', 200); // the only run of q: the latest stays
    await run(F, 'r', 200, 'running'); // running: never
    const file = (id: number, runId: string, status: string, days: number) =>
      db.query(
        `INSERT INTO sluice.files (id, pipeline, run_id, source, name, size, sha256, status, recorded_at)
         VALUES ($1, 'p', $2, 'test', $3, 1, $3, $4, now() - $5 * interval '1 day')`,
        [id, runId, `f${id}`, status, days],
      );
    await file(101, B, 'loaded', 200); // dedupe depends on it: never
    await file(102, H, 'rejected', 200); // purged
    await file(103, G, 'rejected', 200); // a young reject points at it
    await file(104, D, 'skipped', 10); // young
    const reject = (id: number, days: number) =>
      db.query(
        `INSERT INTO sluice.rejects (id, run_id, pipeline, file_id, file, rule, message, rejected_at)
         VALUES ($1, $2, 'p', 103, 'f103', 'layout', 'bad', now() - $3 * interval '1 day')`,
        [id, G, days],
      );
    await reject(201, 100); // older than 90d: purged
    await reject(202, 80);
    await db.query(
      `INSERT INTO sluice.state (pipeline, key, value, run_id) VALUES ('p', 'watermark', '1', $1)`,
      [C],
    );
    for (let i = 0; i < 5; i++)
      await db.query(
        `INSERT INTO sluice.logs (logged_at, level, message) VALUES (now() - interval '31 days', 'info', $1)`,
        [`old ${i}`],
      );
    for (let i = 0; i < 2; i++)
      await db.query(
        `INSERT INTO sluice.logs (logged_at, level, message) VALUES (now() - interval '29 days', 'info', $1)`,
        [`young ${i}`],
      );

    const folder = await tempDir('sluice-ops-archive-');
    await mkdir(path.join(folder, 'inner'));
    const aged = async (name: string, days: number) => {
      const f = path.join(folder, name);
      await writeFile(f, 'x'.repeat(10));
      const t = new Date(Date.now() - days * DAY);
      await utimes(f, t, t);
    };
    await aged('old.zip', 8);
    await aged('new.zip', 6);
    await aged('old.txt', 8);
    await aged('inner/old.zip', 8);

    const cli = await runCli(
      [
        'maintenance',
        '--folder',
        folder,
        '--older-than',
        '7d',
        '--match',
        '*.zip',
        '--batch-size',
        '2',
        '--json',
      ],
      store.env,
    );
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const summary = JSON.parse(cli.stdout) as { status: string; result: unknown };
    expect(summary.status).toBe('succeeded');
    expect(summary.result).toEqual({
      rows: { rejects: 1, logs: 5, ledger: 1, runs: 2 },
      folders: [{ path: folder, files: 1, bytes: 10 }],
    });

    expect(await ids(`SELECT id FROM sluice.runs WHERE pipeline <> 'maintenance'`)).toEqual(
      [B, C, D, E, F, G].sort(),
    );
    expect(await ids('SELECT id FROM sluice.files')).toEqual(['101', '103', '104']);
    expect(await ids('SELECT id FROM sluice.rejects')).toEqual(['202']);
    expect(await ids(`SELECT message AS id FROM sluice.logs WHERE run_id IS NULL`)).toEqual([
      'young 0',
      'young 1',
    ]);
    expect(await ids('SELECT key AS id FROM sluice.state')).toEqual(['watermark']);
    expect((await readdir(folder)).sort()).toEqual(['inner', 'new.zip', 'old.txt']);
    expect(await readdir(path.join(folder, 'inner'))).toEqual(['old.zip']);
    // Recorded as a task run, with what it removed in its step log.
    const { rows } = await db.query<{ kind: string; status: string }>(
      `SELECT kind, status FROM sluice.runs WHERE pipeline = 'maintenance'`,
    );
    expect(rows).toEqual([{ kind: 'maintenance', status: 'succeeded' }]);
  });
});
