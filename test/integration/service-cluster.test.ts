import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cronOf } from '../../src/scheduler/schedule-spec.js';
import { tickRequestId } from '../../src/scheduler/scheduler.js';
import { saveSchedule } from '../../src/store/schedules.js';
import { ensureBuilt } from '../helpers/bin.js';
import { freePort } from '../helpers/free-port.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { eventually, servicePipeline, sleep } from '../helpers/service-fixtures.js';
import { startSluice, stopSluice, type SluiceProcess } from '../helpers/service-process.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// The acceptance test of the service: on one PostgreSQL server (a fresh database), two `sluice serve` and
// one `sluice worker` (the real bin, child processes). Schedules tick every 2 seconds (a seconds cron), so
// this takes seconds, not minutes. Runs are held mid-way by gates: advisory locks the test holds, which
// the pipelines' SQL waits on; nothing here waits a fixed time for something to happen.

const TOKEN = 'cluster-token';
let store: TestStore;
let dir: string;
let serviceFile: string;
const processes: SluiceProcess[] = [];
const ports = new Map<SluiceProcess, number>();
let catchupCreated: Date;

const GATE_KILL = 4242;
const GATE_TERM = 4343;

beforeAll(async () => {
  await ensureBuilt();
  store = await createTestStore({ prefix: 'sluice-cluster-' });
  dir = await tempDir('sluice-cluster-pipelines-');
  const gate = (n: number) => `SELECT pg_advisory_lock(${n}), pg_advisory_unlock(${n})`;
  await servicePipeline(dir, 'tick', { rows: 1 });
  await servicePipeline(dir, 'tock', { rows: 1 });
  await servicePipeline(dir, 'slow', { rows: 2, setup: gate(GATE_KILL), claimTimeout: '3s' });
  await servicePipeline(dir, 'slow2', { rows: 2, files: 2, afterLoad: gate(GATE_TERM), claimTimeout: '3s' });
  serviceFile = path.join(await tempDir('sluice-cluster-service-'), 'service.yaml');
  await writeFile(serviceFile, `pipelines: [${JSON.stringify(dir)}]\n`);
  // Downtime: a schedule with catchUp once exists while no scheduler runs, over two ticks and more.
  await saveSchedule(store.db, {
    name: 'catchup',
    cron: '*/2 * * * * *',
    timezone: 'UTC',
    kind: 'pipeline',
    target: 'tock',
    options: { force: true },
    enabled: true,
    catchUp: 'once',
  });
  catchupCreated = new Date(
    (await scalar<number>(`SELECT ${ms('created_at')} FROM sluice.schedules WHERE name = 'catchup'`))!,
  );
  await eventually('two ticks of downtime', async () =>
    Date.now() > catchupCreated.getTime() + 4_500 ? true : undefined,
  );

  const env = (home: string) => ({
    DATABASE_URL: store.url!,
    SLUICE_HOME: home,
    SLUICE_API_TOKEN: TOKEN,
    SLUICE_LOG_LEVEL: 'debug',
  });
  for (const role of ['serve', 'serve', 'worker'] as const) {
    const home = await tempDir('sluice-cluster-home-');
    const port = await freePort();
    const args =
      role === 'serve'
        ? ['serve', serviceFile, '--port', String(port), '--grace', '1s']
        : ['worker', serviceFile, '--grace', '1s'];
    const p = startSluice(args, env(home));
    processes.push(p);
    if (role === 'serve') ports.set(p, port);
  }
  await Promise.all(processes.map((p) => p.waitFor(/sluice (serve|worker) started/)));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => stopSluice(p)));
  await store?.close();
});

/** A timestamp column as milliseconds since the epoch (its text form is not one Date reads). */
const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8 AS v`;

async function scalar<T>(sql: string, params: unknown[] = []): Promise<T | undefined> {
  const { rows } = await store.db.query<{ v: T }>(sql, params);
  return rows[0]?.v;
}

const alive = () => processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);

async function api(method: string, route: string, body?: unknown) {
  const serve = alive().find((p) => ports.has(p))!;
  const response = await fetch(`http://127.0.0.1:${ports.get(serve)}${route}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface Tick {
  fire_at: Date;
  outcome: string;
}
const ticksOf = async (schedule: string) =>
  (
    await store.db.query<{ fire_at: number; outcome: string }>(
      `SELECT (extract(epoch FROM fire_at) * 1000)::float8 AS fire_at, outcome FROM sluice.schedule_ticks WHERE schedule = $1 ORDER BY fire_at`,
      [schedule],
    )
  ).rows.map((r): Tick => ({ fire_at: new Date(r.fire_at), outcome: r.outcome }));

/** The runs a request started, once they all ended. */
async function endedRuns(requestId: string) {
  return eventually(`the run of ${requestId}`, async () => {
    const { rows } = await store.db.query<{ pipeline: string; status: string }>(
      `SELECT pipeline, status FROM sluice.runs WHERE request_id = $1`,
      [requestId],
    );
    return rows.length > 0 && rows.every((r) => r.status !== 'running') ? rows : undefined;
  });
}

/** Holds an advisory lock on a connection of its own: the gate a pipeline's SQL waits on. */
async function closeGate(n: number) {
  const holder = new pg.Client({ connectionString: store.url! });
  holder.on('error', () => undefined); // dropped with the database at the end
  await holder.connect();
  await holder.query('SELECT pg_advisory_lock($1)', [n]);
  return {
    waiter: () =>
      eventually(`a run waiting at gate ${n}`, async () => {
        const { rowCount } = await holder.query(
          `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`,
          [n],
        );
        return (rowCount ?? 0) > 0 ? true : undefined;
      }),
    open: async () => {
      await holder.query('SELECT pg_advisory_unlock($1)', [n]);
      await holder.end();
    },
  };
}

/** The running run of a pipeline, and which of the processes runs it. */
async function runningRun(pipeline: string) {
  const run = await eventually(`a running run of ${pipeline}`, async () => {
    const { rows } = await store.db.query<{ id: string; pid: number; attempts: number }>(
      `SELECT id::text, pid, attempts FROM sluice.runs WHERE pipeline = $1 AND status = 'running'`,
      [pipeline],
    );
    return rows[0];
  });
  const owner = processes.find((p) => p.pid === run.pid);
  expect(owner, `the run's pid ${run.pid} is one of the service processes`).toBeDefined();
  return { ...run, owner: owner! };
}

describe('two serve processes and a worker on one PostgreSQL server', () => {
  it('fires a catchUp once schedule once on start for the ticks missed during downtime', async () => {
    const [first] = await eventually('the first catchup tick', async () => {
      const ticks = await ticksOf('catchup');
      return ticks.length > 0 ? ticks : undefined;
    });
    expect(first!.outcome).toBe('queued');
    // It stands for every tick since the schedule was made: at least the two of the 4.5 s of downtime (the
    // services may start within a second after it on a fast machine, so no more than two is certain).
    const missed = cronOf({ cron: '*/2 * * * * *', timezone: 'UTC' }).nextRuns(100, catchupCreated);
    expect(missed.filter((t) => t <= first!.fire_at).length).toBeGreaterThanOrEqual(2);
    const runs = await endedRuns(tickRequestId('catchup', first!.fire_at));
    expect(runs).toEqual([{ pipeline: 'tock', status: 'succeeded' }]);
    expect((await api('POST', '/api/schedules/catchup/disable')).body.enabled).toBe(false);
  });

  it('fires a schedule exactly once per tick over three ticks; a change through the API takes effect on the next tick', async () => {
    const created = await api('POST', '/api/schedules', {
      name: 'every2s',
      cron: '*/2 * * * * *',
      kind: 'pipeline',
      target: 'tick',
      options: { force: true },
    });
    expect(created.status).toBe(201);
    const ticks = await eventually('three ticks', async () => {
      const t = (await ticksOf('every2s')).filter((x) => x.outcome === 'queued');
      return t.length >= 3 ? t.slice(0, 3) : undefined;
    });
    for (const tick of ticks) {
      const runs = await endedRuns(tickRequestId('every2s', tick.fire_at));
      expect(runs).toEqual([{ pipeline: 'tick', status: 'succeeded' }]);
    }
    // Consecutive: no tick was skipped or claimed twice (the primary key would refuse a second claim).
    expect(ticks[1]!.fire_at.getTime() - ticks[0]!.fire_at.getTime()).toBe(2_000);
    expect(ticks[2]!.fire_at.getTime() - ticks[1]!.fire_at.getTime()).toBe(2_000);
    const scheduled = await scalar<number>(
      `SELECT count(*)::int AS v FROM sluice.runs WHERE request_id LIKE 'schedule:every2s:%'`,
    );
    const claimed = await scalar<number>(
      `SELECT count(*)::int AS v FROM sluice.schedule_ticks WHERE schedule = 'every2s'`,
    );
    expect(scheduled).toBeLessThanOrEqual(claimed!);

    const changed = await api('PATCH', '/api/schedules/every2s', { target: 'tock' });
    expect(changed.body.target).toBe('tock');
    const changedAt = new Date(
      (await scalar<number>(`SELECT ${ms('updated_at')} FROM sluice.schedules WHERE name = 'every2s'`))!,
    );
    const next = await eventually('the tick after the change', async () =>
      (await ticksOf('every2s')).find((t) => t.fire_at > changedAt),
    );
    expect(await endedRuns(tickRequestId('every2s', next.fire_at))).toEqual([
      { pipeline: 'tock', status: 'succeeded' },
    ]);
    expect((await api('POST', '/api/schedules/every2s/disable')).body.enabled).toBe(false);
  });

  it('finishes the run of a worker killed (SIGKILL) mid-run in another process', async () => {
    const gate = await closeGate(GATE_KILL);
    const accepted = await api('POST', '/api/pipelines/slow/run', {});
    expect(accepted.status).toBe(202);
    await gate.waiter();
    const run = await runningRun('slow');
    run.owner.child.kill('SIGKILL');
    expect(await run.owner.exited).toBe('SIGKILL');
    await gate.open();
    const [ended] = await endedRuns(accepted.body.requestId);
    expect(ended!.status).toBe('succeeded');
    const after = await store.db.query<{ id: string; pid: number; attempts: number }>(
      `SELECT id::text, pid, attempts FROM sluice.runs WHERE request_id = $1`,
      [accepted.body.requestId],
    );
    expect(after.rows).toHaveLength(1);
    expect(after.rows[0]!.id).toBe(run.id); // the same run, taken over and resumed
    expect(after.rows[0]!.pid).not.toBe(run.pid);
    expect(after.rows[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(await scalar<number>('SELECT count(*)::int AS v FROM slow')).toBe(2);
  });

  it('ends a run cleanly on SIGTERM: stopped after the grace time, claim released, resumed by another process', async () => {
    const gate = await closeGate(GATE_TERM);
    const accepted = await api('POST', '/api/pipelines/slow2/run', {});
    await gate.waiter();
    const run = await runningRun('slow2');
    // Keep a serve process for the API and another process to resume the run.
    expect(alive().length).toBeGreaterThanOrEqual(2);
    run.owner.child.kill('SIGTERM');
    await run.owner.waitFor(/the grace time is over/);
    await gate.open();
    expect(await run.owner.exited).toBe(0);
    expect(run.owner.output()).toMatch(/stopped/);
    const stoppedLog = await scalar<number>(
      `SELECT count(*)::int AS v FROM sluice.logs
        WHERE run_id = $1 AND level = 'warn' AND message LIKE 'run stopped: stopped: the service is shutting down%'`,
      [run.id],
    );
    expect(stoppedLog).toBe(1);
    // The job went back to the queue: another process resumes the stopped run.
    await eventually('the stopped run resumed and finished', async () =>
      (await scalar<string>(`SELECT status AS v FROM sluice.runs WHERE id = $1`, [run.id])) === 'succeeded'
        ? true
        : undefined,
    );
    const final = await store.db.query<{ id: string; attempts: number; files_loaded: number }>(
      `SELECT id::text, attempts, files_loaded FROM sluice.runs WHERE request_id = $1`,
      [accepted.body.requestId],
    );
    expect(final.rows).toEqual([{ id: run.id, attempts: 2, files_loaded: 2 }]);
    expect(await scalar<number>('SELECT count(*)::int AS v FROM slow2')).toBe(4);
    await sleep(0);
  });
});
