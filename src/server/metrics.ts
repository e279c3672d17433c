import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobQueue } from '../scheduler/queue.js';
import type { Database } from '../store/database.js';
import { lastSuccessfulPolls } from '../store/mail-store.js';
import { lastSuccesses, latestTickLags, runDurationBuckets, runTotals } from '../store/service-views.js';

/** Run duration buckets, in seconds: from a quick no-op to a long sync. */
const DURATION_BOUNDS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600];

export interface ServiceMetrics {
  registry: Registry;
  /** A tick claimed by this process's scheduler, and how late (seconds). */
  observeTick(schedule: string, lagSeconds: number): void;
  /** A job this process's worker ran. */
  observeJob(kind: string, status: string, seconds: number): void;
}

/**
 * The metrics of `/metrics`. Counts of runs and rows, their durations, the last success of each pipeline,
 * the queue and the mail polls are read from the database at each scrape, so every process exports the
 * same totals (they match `sluice.runs`) whichever ran the work; tick lag and job durations are this
 * process's own.
 */
export function createServiceMetrics(db: Database, queue: JobQueue): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });

  const runsTotal = new NeverDown();
  new Counter({
    name: 'sluice_runs_total',
    help: 'Runs in the ledger (not dry runs), by pipeline and status.',
    labelNames: ['pipeline', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      const totals = (await runTotals(db)).map((t) => ({
        labels: { pipeline: t.pipeline, status: t.status },
        value: t.runs,
      }));
      for (const { labels, value } of runsTotal.values(totals)) this.inc(labels, value);
    },
  });
  const loadedTotal = new NeverDown();
  new Counter({
    name: 'sluice_rows_loaded_total',
    help: 'Rows loaded by the runs of each pipeline.',
    labelNames: ['pipeline'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { labels, value } of loadedTotal.values(sumBy(await runTotals(db), 'rowsLoaded')))
        this.inc(labels, value);
    },
  });
  const rejectedTotal = new NeverDown();
  new Counter({
    name: 'sluice_rows_rejected_total',
    help: 'Rows rejected by the runs of each pipeline.',
    labelNames: ['pipeline'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { labels, value } of rejectedTotal.values(sumBy(await runTotals(db), 'rowsRejected')))
        this.inc(labels, value);
    },
  });
  registry.registerMetric(runDurations(db) as never);
  new Gauge({
    name: 'sluice_last_success_timestamp_seconds',
    help: "When each pipeline's latest successful run ended (seconds since the epoch).",
    labelNames: ['pipeline'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await lastSuccesses(db)) this.set({ pipeline: s.pipeline }, s.endedAt);
    },
  });
  new Gauge({
    name: 'sluice_queue_jobs',
    help: 'Jobs in the run queue: waiting (due), running, later (retries, delayed).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const s = await queue.stats();
      this.set({ state: 'waiting' }, s.waiting);
      this.set({ state: 'running' }, s.running);
      this.set({ state: 'later' }, s.later);
    },
  });
  new Gauge({
    name: 'sluice_queue_oldest_job_age_seconds',
    help: 'How long the oldest due job has waited.',
    registers: [registry],
    async collect() {
      this.set((await queue.stats()).oldestWaitSeconds);
    },
  });
  new Gauge({
    name: 'sluice_schedule_last_tick_lag_seconds',
    help: "Seconds from each schedule's latest tick to its claim by a scheduler.",
    labelNames: ['schedule'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const t of await latestTickLags(db)) this.set({ schedule: t.schedule }, t.lag);
    },
  });
  new Gauge({
    name: 'sluice_mail_last_success_timestamp_seconds',
    help: "When each mail account's latest successful poll was (0: never).",
    labelNames: ['account'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [account, at] of await lastSuccessfulPolls(db))
        this.set({ account }, at ? at.getTime() / 1000 : 0);
    },
  });
  const tickLag = new Histogram({
    name: 'sluice_scheduler_tick_lag_seconds',
    help: "Seconds from a tick's fire time to its claim, for the ticks this process claimed.",
    labelNames: ['schedule'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 30, 60],
    registers: [registry],
  });
  const jobs = new Histogram({
    name: 'sluice_job_duration_seconds',
    help: 'Seconds the jobs this process ran took, by kind and outcome.',
    labelNames: ['kind', 'status'],
    buckets: DURATION_BOUNDS,
    registers: [registry],
  });
  return {
    registry,
    observeTick: (schedule, lag) => tickLag.observe({ schedule }, lag),
    observeJob: (kind, status, seconds) => jobs.observe({ kind, status }, seconds),
  };
}

function sumBy(rows: Awaited<ReturnType<typeof runTotals>>, key: 'rowsLoaded' | 'rowsRejected'): Series[] {
  const sums = new Map<string, number>();
  for (const r of rows) sums.set(r.pipeline, (sums.get(r.pipeline) ?? 0) + r[key]);
  return [...sums].map(([pipeline, value]) => ({ labels: { pipeline }, value }));
}

type Labels = Record<string, string | number>;
interface Series {
  labels: Labels;
  value: number;
}

/**
 * Keeps counters read from the ledger from going down in this process. `sluice maintenance` purges old
 * runs, so a total read from sluice.runs can fall (or its series vanish): Prometheus would take that for a
 * reset and see the whole remaining total as new. A series keeps the part purged as an offset and goes on
 * growing from where it was; one that vanished keeps its last value. A restart starts over, as any
 * process's counters do.
 */
export class NeverDown {
  private readonly offsets = new Map<string, number>();
  private readonly last = new Map<string, { labels: Labels; value: number }>();

  values(current: readonly Series[]): Series[] {
    const seen = new Set<string>();
    const out: Series[] = [];
    for (const { labels, value } of current) {
      const key = JSON.stringify(labels);
      seen.add(key);
      let exported = value + (this.offsets.get(key) ?? 0);
      const before = this.last.get(key)?.value ?? 0;
      if (exported < before) {
        this.offsets.set(key, (this.offsets.get(key) ?? 0) + before - exported);
        exported = before;
      }
      this.last.set(key, { labels, value: exported });
      out.push({ labels, value: exported });
    }
    for (const [key, kept] of this.last) {
      if (seen.has(key)) continue;
      // Every run of the series was purged: what comes later counts on from here.
      this.offsets.set(key, kept.value);
      out.push(kept);
    }
    return out;
  }
}

/** A histogram read from the ledger at each scrape (prom-client's own keeps what one process observed). */
function runDurations(db: Database) {
  const neverDown = new NeverDown();
  return {
    name: 'sluice_run_duration_seconds',
    help: 'Durations of the ended runs in the ledger, by pipeline and status.',
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    async get() {
      // Every bucket, sum and count is a series of its own (the metric's name among its labels) that must
      // not go down either.
      const series: Series[] = [];
      for (const row of await runDurationBuckets(db, DURATION_BOUNDS)) {
        const labels = { pipeline: row.pipeline, status: row.status };
        const bucket = (le: number | string, value: number) =>
          series.push({ labels: { metric: 'bucket', ...labels, le }, value });
        DURATION_BOUNDS.forEach((le, i) => bucket(le, row.counts[i] ?? 0));
        bucket('+Inf', row.count);
        series.push({ labels: { metric: 'sum', ...labels }, value: row.sum });
        series.push({ labels: { metric: 'count', ...labels }, value: row.count });
      }
      const values = neverDown.values(series).map(({ labels: { metric, ...labels }, value }) => ({
        metricName: `sluice_run_duration_seconds_${String(metric)}`,
        labels,
        value,
      }));
      return {
        name: 'sluice_run_duration_seconds',
        help: this.help,
        type: 'histogram',
        aggregator: 'sum',
        values,
      };
    },
  };
}
