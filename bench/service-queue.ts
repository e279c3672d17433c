/**
 * The service's run queue (bench/README.md): 1,000 queued no-op runs drained by two `sluice worker`
 * processes (graphile-worker on PostgreSQL), and the scheduler's tick lag meanwhile.
 *
 *   BENCH_QUEUE_JOBS=1000        jobs queued at once (one no-op pipeline each: an empty folder)
 *   BENCH_QUEUE_CONCURRENCY=4    jobs each worker runs at once
 *
 * A no-op run is a whole run: its claim, its source opened and listed (no file), its ledger row closed.
 * The jobs are added in one transaction (graphile_worker.add_job); jobs/s counts from that commit to the
 * last run ended. Meanwhile a `sluice serve --no-worker` fires a schedule every second: its ticks' lag
 * (claim time minus fire time) is reported, idle before the drain and under the drain's load.
 * Run alone: node --import tsx bench/service-queue.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ADMIN_URL, dropDatabase, ensureBuilt, psql, SLUICE, withDatabase } from './bench-lib.js';

const JOBS = Math.max(1, Number(process.env.BENCH_QUEUE_JOBS ?? 1000));
const CONCURRENCY = Math.max(1, Number(process.env.BENCH_QUEUE_CONCURRENCY ?? 4));
const DATABASE = 'sluice_bench_queue';

const started = performance.now();
const log = (line: string) =>
  process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

export interface QueueBenchResult {
  jobs: number;
  workers: number;
  concurrency: number;
  drainSeconds: number;
  jobsPerSecond: number;
  tickLagMs: { idle: LagStats; underLoad: LagStats };
}

interface LagStats {
  ticks: number;
  medianMs: number;
  maxMs: number;
}

function lagStats(lags: number[]): LagStats {
  const sorted = [...lags].sort((a, b) => a - b);
  return {
    ticks: sorted.length,
    medianMs: Math.round(sorted[Math.floor((sorted.length - 1) / 2)] ?? 0),
    maxMs: Math.round(sorted[sorted.length - 1] ?? 0),
  };
}

function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(SLUICE, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  return { child, output: () => output };
}

async function until(what: string, probe: () => Promise<boolean>, limitMs = 600_000) {
  const deadline = Date.now() + limitMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`bench (service queue): timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function runServiceQueueBench(): Promise<QueueBenchResult> {
  await ensureBuilt(log);
  const tmp = await mkdtemp(path.join(tmpdir(), 'sluice-bench-queue-'));
  const processes: ChildProcess[] = [];
  await dropDatabase(DATABASE);
  await psql(ADMIN_URL, `CREATE DATABASE ${DATABASE}`);
  const url = withDatabase(ADMIN_URL, DATABASE);
  const client = new pg.Client({ connectionString: url });
  try {
    const empty = path.join(tmp, 'empty');
    const pipelines = path.join(tmp, 'pipelines');
    await mkdir(empty, { recursive: true });
    await mkdir(pipelines, { recursive: true });
    log(`writing ${JOBS} no-op pipelines`);
    for (let i = 0; i < JOBS; i++)
      await writeFile(
        path.join(pipelines, `noop${i}.yaml`),
        `name: noop${i}\nsource: { url: ${empty}, stableFor: 0s }\nparse: { type: csv }\nload: { type: postgres, table: noop }\n`,
      );
    const service = path.join(tmp, 'service.yaml');
    await writeFile(
      service,
      `pipelines: [${JSON.stringify(pipelines)}]\nschedules:\n  - { name: every-second, cron: '* * * * * *', kind: cleanup }\n`,
    );
    const env = { ...process.env, DATABASE_URL: url, SLUICE_HOME: path.join(tmp, 'home'), NO_COLOR: '1' };

    const serve = start(['serve', service, '--no-worker', '--port', '0'], env);
    processes.push(serve.child);
    await client.connect();
    await until('the scheduler', async () => /sluice serve started/.test(serve.output()));
    log('the scheduler runs; measuring tick lag while idle (5 s)');
    const idleFrom = Date.now();
    await new Promise((r) => setTimeout(r, 5_000));
    const lags = async (fromMs: number, toMs: number) =>
      (
        await client.query<{ lag: number }>(
          `SELECT (extract(epoch FROM claimed_at - fire_at) * 1000)::float8 AS lag FROM sluice.schedule_ticks
            WHERE fire_at >= to_timestamp($1 / 1000.0) AND fire_at < to_timestamp($2 / 1000.0)`,
          [fromMs, toMs],
        )
      ).rows.map((r) => r.lag);
    const idle = lagStats(await lags(idleFrom, Date.now()));

    for (let w = 0; w < 2; w++) {
      const worker = start(['worker', service, '--concurrency', String(CONCURRENCY)], env);
      processes.push(worker.child);
      await until(`worker ${w + 1}`, async () => /sluice worker started/.test(worker.output()));
    }
    log(`queueing ${JOBS} runs for 2 workers × ${CONCURRENCY}`);
    await client.query('BEGIN');
    await client.query(
      `SELECT graphile_worker.add_job('sluice_job', json_build_object('kind', 'pipeline', 'target', 'noop' || i,
              'options', '{}'::json, 'requestId', 'bench-' || i), max_attempts => 25, job_key => 'bench-' || i)
         FROM generate_series(0, $1 - 1) AS i`,
      [JOBS],
    );
    await client.query('COMMIT');
    const t0 = performance.now();
    const loadFrom = Date.now();
    await until('every run ended', async () => {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM sluice.runs WHERE request_id LIKE 'bench-%' AND status <> 'running'`,
      );
      return rows[0]!.n >= JOBS;
    });
    const drainSeconds = (performance.now() - t0) / 1000;
    const underLoad = lagStats(await lags(loadFrom, Date.now()));
    const { rows: failed } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sluice.runs WHERE request_id LIKE 'bench-%' AND status <> 'succeeded'`,
    );
    if (failed[0]!.n > 0) throw new Error(`bench (service queue): ${failed[0]!.n} runs did not succeed`);
    const result: QueueBenchResult = {
      jobs: JOBS,
      workers: 2,
      concurrency: CONCURRENCY,
      drainSeconds: Math.round(drainSeconds * 100) / 100,
      jobsPerSecond: Math.round(JOBS / drainSeconds),
      tickLagMs: { idle, underLoad },
    };
    log(
      `${JOBS} no-op runs drained by 2 workers × ${CONCURRENCY} in ${result.drainSeconds} s: ${result.jobsPerSecond} jobs/s; ` +
        `tick lag idle median ${idle.medianMs} ms (max ${idle.maxMs}, ${idle.ticks} ticks), under load median ${underLoad.medianMs} ms (max ${underLoad.maxMs}, ${underLoad.ticks} ticks)`,
    );
    process.stdout.write(JSON.stringify({ serviceQueue: result }, null, 2) + '\n');
    return result;
  } finally {
    for (const child of processes) child.kill('SIGTERM');
    await Promise.all(
      processes.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
    );
    await client.end().catch(() => undefined);
    await dropDatabase(DATABASE).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runServiceQueueBench();
