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

  new Counter({
    name: 'sluice_runs_total',
    help: 'Runs in the ledger (not dry runs), by pipeline and status.',
    labelNames: ['pipeline', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const t of await runTotals(db)) this.inc({ pipeline: t.pipeline, status: t.status }, t.runs);
    },
  });
  new Counter({
    name: 'sluice_rows_loaded_total',
    help: 'Rows loaded by the runs of each pipeline.',
    labelNames: ['pipeline'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [pipeline, n] of sumBy(await runTotals(db), 'rowsLoaded')) this.inc({ pipeline }, n);
    },
  });
  new Counter({
    name: 'sluice_rows_rejected_total',
    help: 'Rows rejected by the runs of each pipeline.',
    labelNames: ['pipeline'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [pipeline, n] of sumBy(await runTotals(db), 'rowsRejected')) this.inc({ pipeline }, n);
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

function sumBy(rows: Awaited<ReturnType<typeof runTotals>>, key: 'rowsLoaded' | 'rowsRejected') {
  const sums = new Map<string, number>();
  for (const r of rows) sums.set(r.pipeline, (sums.get(r.pipeline) ?? 0) + r[key]);
  return sums;
}

/** A histogram read from the ledger at each scrape (prom-client's own keeps what one process observed). */
function runDurations(db: Database) {
  return {
    name: 'sluice_run_duration_seconds',
    help: 'Durations of the ended runs in the ledger, by pipeline and status.',
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    async get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const row of await runDurationBuckets(db, DURATION_BOUNDS)) {
        const labels = { pipeline: row.pipeline, status: row.status };
        DURATION_BOUNDS.forEach((le, i) =>
          values.push({
            metricName: 'sluice_run_duration_seconds_bucket',
            labels: { ...labels, le },
            value: row.counts[i] ?? 0,
          }),
        );
        values.push({
          metricName: 'sluice_run_duration_seconds_bucket',
          labels: { ...labels, le: '+Inf' },
          value: row.count,
        });
        values.push({ metricName: 'sluice_run_duration_seconds_sum', labels, value: row.sum });
        values.push({ metricName: 'sluice_run_duration_seconds_count', labels, value: row.count });
      }
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
