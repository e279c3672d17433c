import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePipeline } from '../../src/core/spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { runPipeline } from '../../src/runner/run-pipeline.js';
import type { Database } from '../../src/store/database.js';
import { claimRun, newClaimer } from '../../src/store/run-claims.js';
import { addRunCounts } from '../../src/store/runs.js';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

let store: TestStore;
let db: Database;
let home: string;
const registry = createRegistry();

beforeAll(async () => {
  store = await createTestStore({ prefix: 'sluice-claims-' });
  ({ db, home } = store);
});

afterAll(async () => {
  await store?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(25);
}

/** A pipeline file loading the CSVs of its own inbox into its own table. */
async function filePipeline(
  dir: string,
  name: string,
  options: { group?: string; setup?: string; rows?: number; files?: number } = {},
): Promise<string> {
  const inbox = path.join(dir, `${name}-inbox`);
  await mkdir(inbox, { recursive: true });
  for (let f = 0; f < (options.files ?? 1); f++) {
    const lines = ['id,label'];
    for (let i = 0; i < (options.rows ?? 3); i++) lines.push(`${f * 1_000_000 + i},row ${i} of ${name}`);
    await writeFile(path.join(inbox, `part-${f}.csv`), lines.join('\n') + '\n');
  }
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(
    file,
    [
      `name: ${name}`,
      options.group ? `group: ${options.group}` : '',
      'source:',
      `  url: ${inbox}`,
      '  glob: "*.csv"',
      'parse:',
      '  type: csv',
      'check:',
      '  columns:',
      '    id: { integer: true }',
      'load:',
      '  type: postgres',
      `  table: ${name.replaceAll('-', '_')}`,
      options.setup ? `  setup: "${options.setup}"` : '',
    ].join('\n') + '\n',
  );
  return file;
}

const count = async (table: string) =>
  Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

/** A statement that waits until the test opens the gate (an advisory lock the test holds). */
const GATE_SQL = 'SELECT pg_advisory_lock(4242), pg_advisory_unlock(4242)';

/** Holds the gate's lock on a connection of its own; `waitForWaiter` returns once a run waits on it. */
async function closeGate() {
  const holder = new pg.Client({ connectionString: store.url! });
  await holder.connect();
  await holder.query('SELECT pg_advisory_lock(4242)');
  return {
    async waitForWaiter() {
      for (;;) {
        const { rowCount } = await holder.query(
          `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted`,
        );
        if ((rowCount ?? 0) > 0) return;
        await sleep(25);
      }
    },
    async open() {
      await holder.end();
    },
  };
}

describe('one claim per pipeline run', () => {
  it('a group of 16 pipelines runs 16 at once on a server and finishes', async () => {
    const dir = await tempDir('sluice-group16-');
    for (let i = 0; i < 16; i++) await filePipeline(dir, `lane-${i}`, { group: 'wide' });
    const result = await runCli(['run', '--group', 'wide', '--max-concurrent', '16', dir], {
      ...store.env,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^16 of 16 pipelines succeeded/);
    for (let i = 0; i < 16; i++) expect(await count(`lane_${i}`)).toBe(3);
  });

  it('refuses a --max-concurrent it cannot serve', async () => {
    const dir = await tempDir('sluice-group-bad-');
    await filePipeline(dir, 'solo', { group: 'g' });
    const result = await runCli(['run', '--group', 'g', '--max-concurrent', '1000', dir], {
      ...store.env,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--max-concurrent must be a whole number from 1 to 64/);
  });

  it('two processes of one pipeline never both load: the second refuses while the first holds it', async () => {
    const dir = await tempDir('sluice-two-');
    // The first run's setup waits for a lock this test holds: it keeps its claim until the test lets go.
    const file = await filePipeline(dir, 'twice', { setup: GATE_SQL, rows: 50 });
    const env = store.env;
    const gate = await closeGate();
    const first = startCli(['run', file], env);
    await gate.waitForWaiter();
    const second = await runCli(['run', file], env);
    await gate.open();
    const done = await first.done;
    expect(done.code, done.stderr).toBe(0);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      /pipeline twice is already running since .+, run [0-9a-f-]{36} \(process \d+ on /,
    );
    expect(second.stderr).not.toMatch(/\n\s+at /);
    expect(await count('twice')).toBe(50);
    const runs = await db.query<{ status: string }>(
      `SELECT status FROM sluice.runs WHERE pipeline = 'twice'`,
    );
    expect(runs.rows).toEqual([{ status: 'succeeded' }]);
  });

  it("takes over a claim whose heartbeat stopped only after the claim's time limit", async () => {
    const dir = await tempDir('sluice-takeover-');
    const file = await filePipeline(dir, 'orphan', { rows: 5 });
    const text = (await import('node:fs/promises')).readFile(file, 'utf8');
    const spec = parsePipeline(`${await text}run:\n  claimTimeout: 1m\n`, { registry, file });
    // A run claimed by a process on another machine that stopped beating: its liveness cannot be checked.
    const ghost = '00000000-0000-4000-8000-0000000de0d1';
    await db.query(
      `INSERT INTO sluice.runs (id, pipeline, status, as_of, host, pid, locked_by, locked_at, heartbeat_at)
       VALUES ($1, 'orphan', 'running', current_date, 'elsewhere', 4242, 'elsewhere:4242:x', now(), now() - interval '50 seconds')`,
      [ghost],
    );
    await expect(runPipeline({ db, spec, registry, home })).rejects.toThrow(
      /pipeline orphan is already running since .*run 00000000-0000-4000-8000-0000000de0d1 \(process 4242 on elsewhere/,
    );
    expect(await count(`sluice.runs WHERE id = '${ghost}' AND status = 'running'`)).toBe(1);

    // Past its limit: the next run takes it over and resumes it.
    await db.query(`UPDATE sluice.runs SET heartbeat_at = now() - interval '61 seconds' WHERE id = $1`, [
      ghost,
    ]);
    const summary = await runPipeline({ db, spec, registry, home });
    expect(summary.status).toBe('succeeded');
    expect(summary.runId).toBe(ghost);
    expect(summary.resumed).toBe(true);
    expect(summary.warnings.join('\n')).toMatch(/took over run .* from process 4242 on elsewhere/);
    expect(await count('orphan')).toBe(5);
  });

  it('an attempt whose claim was taken over cannot commit', async () => {
    const a = newClaimer();
    const b = newClaimer();
    const run = await claimRun(db, { pipeline: 'fenced', today: '2026-11-30', claimer: a });
    // a's process is presumed dead (another host, no heartbeat): b takes the run over.
    await db.query(
      `UPDATE sluice.runs SET host = 'elsewhere', heartbeat_at = now() - interval '1 hour' WHERE id = $1`,
      [run.id],
    );
    const taken = await claimRun(db, { pipeline: 'fenced', today: '2026-11-30', claimer: b });
    expect(taken).toMatchObject({ id: run.id, resumed: true });
    await expect(db.transaction((tx) => addRunCounts(tx, run.id, a.id, { rowsLoaded: 1 }))).rejects.toThrow(
      /was taken over by another process/,
    );
    await db.transaction((tx) => addRunCounts(tx, run.id, b.id, { rowsLoaded: 1 }));
    expect(await count(`sluice.runs WHERE id = '${run.id}' AND rows_loaded = 1`)).toBe(1);
  });

  it('a request delivered twice runs its pipeline once: the second gets the first run back', async () => {
    const dir = await tempDir('sluice-request-');
    const file = await filePipeline(dir, 'requested', { rows: 4 });
    const spec = parsePipeline(await (await import('node:fs/promises')).readFile(file, 'utf8'), {
      registry,
      file,
    });
    const first = await runPipeline({ db, spec, registry, home, requestId: 'job:42' });
    const again = await runPipeline({ db, spec, registry, home, requestId: 'job:42', force: true });
    expect(first).toMatchObject({ status: 'succeeded', rowsLoaded: 4, requestId: 'job:42' });
    expect(again).toMatchObject({
      status: 'succeeded',
      runId: first.runId,
      rowsLoaded: 4,
      replayed: true,
      files: [{ name: 'part-0.csv', status: 'loaded', rowsLoaded: 4 }],
    });
    expect(await count(`sluice.runs WHERE pipeline = 'requested'`)).toBe(1);
    // Another request runs it again (nothing new to load: the file is skipped by its content).
    const other = await runPipeline({ db, spec, registry, home, requestId: 'job:43' });
    expect(other).toMatchObject({ status: 'succeeded', filesSkipped: 1 });
    expect(other.runId).not.toBe(first.runId);
  });

  it('a run of this host whose process died is taken over at once', async () => {
    const dir = await tempDir('sluice-deadpid-');
    const file = await filePipeline(dir, 'deadpid', { rows: 2 });
    const spec = parsePipeline(await (await import('node:fs/promises')).readFile(file, 'utf8'), {
      registry,
      file,
    });
    // A pid that cannot be alive (above the kernel's maximum), on this host, beating a second ago.
    await db.query(
      `INSERT INTO sluice.runs (id, pipeline, status, as_of, host, pid, locked_by, locked_at, heartbeat_at)
       VALUES ('00000000-0000-4000-8000-00000000dead', 'deadpid', 'running', current_date, $1, 99999999, 'x', now(), now())`,
      [os.hostname()],
    );
    const summary = await runPipeline({ db, spec, registry, home });
    expect(summary).toMatchObject({
      status: 'succeeded',
      resumed: true,
      runId: '00000000-0000-4000-8000-00000000dead',
    });
  });
});

describe('stopping a run', () => {
  const env = () => store.env;

  async function startBigRun(name: string) {
    const dir = await tempDir(`sluice-stop-${name}-`);
    const file = await filePipeline(dir, name, { rows: 40_000, files: 8 });
    const run = startCli(['run', file], env());
    // Wait until one file has committed: the run is in the middle of its work.
    for (let i = 0; i < 2000; i++) {
      const { rowCount } = await db.query(
        `SELECT 1 FROM sluice.files WHERE pipeline = $1 AND status = 'loaded'`,
        [name],
      );
      if (rowCount > 0) break;
      await sleep(25);
    }
    return { file, run };
  }

  it('Ctrl-C records the run as stopped, releases its claim, prints no stack trace; the next run resumes it', async () => {
    const { file, run } = await startBigRun('stoppable');
    run.child.kill('SIGINT');
    const stopped = await run.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/SIGINT: stopping/);
    expect(stopped.stderr).not.toMatch(/\n\s+at |ERR_STREAM|Unhandled/);
    expect(stopped.stdout).toMatch(/stopped/);
    const rows = await db.query<{ id: string; status: string; locked_by: string | null; error_code: string }>(
      `SELECT id, status, locked_by, error_code FROM sluice.runs WHERE pipeline = 'stoppable'`,
    );
    expect(rows.rows).toEqual([
      { id: expect.any(String), status: 'stopped', locked_by: null, error_code: 'STOPPED' },
    ]);

    const again = await runCli(['run', file], env());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`Run ${rows.rows[0]!.id} of stoppable succeeded`);
    expect(again.stdout).toMatch(/resumed/);
    expect(await count('stoppable')).toBe(320_000);
  });

  it('a second Ctrl-C exits at once, without a stack trace; the next run finishes the work once', async () => {
    const dir = await tempDir('sluice-stop-impatient-');
    // The run waits in its setup for the gate: the first Ctrl-C asks it to stop, the second cannot wait.
    const file = await filePipeline(dir, 'impatient', { rows: 1000, files: 2, setup: GATE_SQL });
    const gate = await closeGate();
    const run = startCli(['run', file], env());
    await gate.waitForWaiter();
    run.child.kill('SIGINT');
    await waitFor(() => run.stderr().includes('SIGINT: stopping'));
    run.child.kill('SIGINT');
    const killed = await run.done;
    await gate.open();
    expect(killed.code).toBe(130);
    expect(killed.stderr).toMatch(/exiting now/);
    expect(killed.stderr).not.toMatch(/\n\s+at |ERR_STREAM|Unhandled/);
    const again = await runCli(['run', file], env());
    expect(again.code, again.stderr).toBe(0);
    expect(await count('impatient')).toBe(2000);
  });

  it('removes the temporary zip a run killed while archiving left behind', async () => {
    const dir = await tempDir('sluice-zip-');
    const file = await filePipeline(dir, 'zipped', { rows: 3 });
    const archive = path.join(dir, 'archive');
    await mkdir(archive, { recursive: true });
    await writeFile(
      file,
      (await (await import('node:fs/promises')).readFile(file, 'utf8')) +
        `archive:\n  dir: ${archive}\n  name: zipped.zip\n`,
    );
    // What a process killed while writing the zip leaves: the zip's temporary sibling, its pid long gone.
    await writeFile(path.join(archive, 'zipped.zip.99999999.tmp'), 'half a zip');
    const result = await runCli(['run', file], env());
    expect(result.code, result.stderr).toBe(0);
    expect(await readdir(archive)).toEqual(['zipped.zip']);
  });
});
