import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEntries } from '../../src/runner/archive.js';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDir, VISITS_PIPELINE } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { visitsFile, type VisitRow } from '../helpers/visits-fixtures.js';

const FILES = 24;
const ROWS = 3000;

async function makeReports(dir: string) {
  await mkdir(dir, { recursive: true });
  for (let f = 0; f < FILES; f++) {
    const rows: (VisitRow | string)[] = [];
    for (let i = 0; i < ROWS; i++) {
      const day = String(1 + ((f + i) % 28)).padStart(2, '0');
      if (i % 500 === 7) rows.push(`broken-${f}-${i},x`);
      else
        rows.push({
          email: `user${(f * 7 + i) % 4000}@example.com`,
          sent: `${day}/11/2026 ${String(i % 24).padStart(2, '0')}:15`,
        });
    }
    await writeFile(
      path.join(dir, `report_${String(f).padStart(2, '0')}.txt`),
      visitsFile(rows, { secondHeader: `jk${f}` }),
    );
  }
}

/** Everything a user can see of the outcome, without run ids and timestamps. */
async function snapshot(url: string, backup: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query(sql)).rows;
    return {
      visitor: await q('SELECT * FROM visitor ORDER BY email'),
      visit: await q('SELECT * FROM visit ORDER BY file_name, line_number'),
      statistics: await q('SELECT * FROM statistics ORDER BY file_name, line_number'),
      errors: await q(
        'SELECT file_name, line_number, reasons, raw_line FROM errors ORDER BY file_name, line_number',
      ),
      rejects: await q(
        'SELECT file, line, column_name, rule, value FROM sluice.rejects ORDER BY file, line, rule',
      ),
      loaded: await q(
        `SELECT name, rows_read, rows_loaded, rows_rejected FROM sluice.files WHERE status = 'loaded' ORDER BY name`,
      ),
      archive: (await readEntries(path.join(backup, 'visitas_20261127.zip'))).map((e) => e.name).sort(),
    };
  } finally {
    await client.end();
  }
}

async function loadedFiles(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client
      .query(`SELECT count(*)::int AS n FROM sluice.files WHERE status = 'loaded'`)
      .catch(() => ({ rows: [{ n: 0 }] }));
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

async function lastRunSucceeded(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client
      .query(`SELECT status FROM sluice.runs ORDER BY started_at DESC LIMIT 1`)
      .catch(() => ({ rows: [] }));
    return rows[0]?.status === 'succeeded';
  } finally {
    await client.end();
  }
}

describe('SIGKILL at any moment, then a rerun', () => {
  let clean: TestDatabase;
  let killed: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    [clean, killed] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    dir = await tempDir();
    await makeReports(path.join(dir, 'reports'));
  }, 120_000);
  afterAll(async () => {
    await Promise.all([clean?.drop(), killed?.drop()]);
  });

  it('gives the same tables as one clean run', async () => {
    const env = (name: string, db: TestDatabase) => ({
      DATABASE_URL: db.url,
      SLUICE_HOME: path.join(dir, name, 'home'),
      VISITS_SOURCE: path.join(dir, name, 'inbox'),
      VISITS_BACKUP_DIR: path.join(dir, name, 'backup'),
    });
    const cleanEnv = env('clean', clean);
    const killedEnv = env('killed', killed);
    await cp(path.join(dir, 'reports'), cleanEnv.VISITS_SOURCE, { recursive: true });
    await cp(path.join(dir, 'reports'), killedEnv.VISITS_SOURCE, { recursive: true });
    const args = ['run', VISITS_PIPELINE, '--as-of', '2026-11-27'];

    const cleanRun = await runCli(args, cleanEnv);
    expect(cleanRun.code, cleanRun.stderr).toBe(0);

    // Kill at growing points: mid-way through the files, then at moments chosen by the clock.
    const killPoints: (() => Promise<void>)[] = [
      async () => {
        while ((await loadedFiles(killed.url)) < 4) await new Promise((r) => setTimeout(r, 50));
      },
      () => new Promise((r) => setTimeout(r, 1500 + Math.random() * 1500)),
      async () => {
        const start = await loadedFiles(killed.url);
        while ((await loadedFiles(killed.url)) < Math.min(start + 3, FILES))
          await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, Math.random() * 200));
      },
    ];
    let kills = 0;
    for (const waitForPoint of killPoints) {
      const { child, done } = startCli(args, killedEnv);
      const finished = await Promise.race([waitForPoint().then(() => false), done.then(() => true)]);
      if (!finished) {
        child.kill('SIGKILL');
        kills++;
      }
      await done;
      if (await lastRunSucceeded(killed.url)) break; // another run would be a new run, not the same one
    }
    expect(kills).toBeGreaterThan(0);
    if (!(await lastRunSucceeded(killed.url))) {
      const last = await runCli(args, killedEnv);
      expect(last.code, last.stderr).toBe(0);
    }

    const a = await snapshot(clean.url, cleanEnv.VISITS_BACKUP_DIR);
    const b = await snapshot(killed.url, killedEnv.VISITS_BACKUP_DIR);
    expect(a.loaded).toHaveLength(FILES);
    expect(a.visitor.length).toBeGreaterThan(1000);
    expect(b.visitor).toEqual(a.visitor);
    expect(b.visit).toEqual(a.visit);
    expect(b.statistics).toEqual(a.statistics);
    expect(b.errors).toEqual(a.errors);
    expect(b.rejects).toEqual(a.rejects);
    expect(b.loaded).toEqual(a.loaded);
    expect(b.archive).toEqual(a.archive);
    // Nothing half-written is left beside the zip (temporary zips, parts deflated while loading).
    expect(await readdir(killedEnv.VISITS_BACKUP_DIR)).toEqual(['visitas_20261127.zip']);
  }, 300_000);
});
