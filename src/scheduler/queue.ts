import { randomUUID } from 'node:crypto';
import { SluiceError } from '../core/errors.js';
import type { SqlClient } from '../core/sql.js';

/** A queued job: what to run, and the request id its runs are keyed by. */
export interface QueuedJob {
  kind: string;
  target?: string;
  options: Record<string, unknown>;
  /** Runs started for this job carry it: a job delivered twice runs its pipeline once. */
  requestId: string;
  /** Who asked: `api`, `schedule:NAME`, `rescue`… */
  origin?: string;
}

export interface AddOptions {
  /** Not before then (a rescue waits for the dead claim to expire). */
  runAt?: Date;
  /** De-duplicates: a second add with the same key while the first waits replaces it. */
  jobKey?: string;
  maxAttempts?: number;
  /** With `jobKey`: a job already waiting under the key keeps its time (rescues, ticks). */
  keepWaiting?: boolean;
  /** Add the job in this transaction (graphile-worker: it commits with the caller's other writes). */
  client?: SqlClient;
}

export interface QueueStats {
  /** Jobs waiting whose time has come. */
  waiting: number;
  /** Jobs being worked on now. */
  running: number;
  /** Jobs waiting for a later time (retries with backoff, rescues). */
  later: number;
  /** Seconds the oldest waiting job has waited; 0 when none waits. */
  oldestWaitSeconds: number;
}

/** Runs one job; throws to have it tried again later (with backoff), up to its attempts. */
export type ExecuteJob = (job: QueuedJob, signal: AbortSignal) => Promise<void>;

export interface QueueWorker {
  /** Stops taking jobs, waits `graceMs` for running ones, then aborts them and waits for them to end. */
  stop(graceMs: number): Promise<void>;
  /** Jobs running in this worker now. */
  readonly running: number;
}

/** The run queue: graphile-worker on a PostgreSQL server, in memory on the embedded database. */
export interface JobQueue {
  readonly kind: 'graphile-worker' | 'in-process';
  add(job: QueuedJob, options?: AddOptions): Promise<{ jobId: string }>;
  stats(): Promise<QueueStats>;
  startWorker(options: {
    concurrency: number;
    execute: ExecuteJob;
    pollIntervalMs?: number;
  }): Promise<QueueWorker>;
  close(): Promise<void>;
}

export const DEFAULT_MAX_ATTEMPTS = 5;

/** graphile-worker's backoff, used in memory too: exp(min(attempts, 10)) seconds. */
export function backoffMs(attempts: number): number {
  return Math.round(Math.exp(Math.min(attempts, 10)) * 1000);
}

interface Entry {
  id: string;
  job: QueuedJob;
  key?: string;
  runAt: number;
  addedAt: number;
  attempts: number;
  maxAttempts: number;
}

/**
 * The queue of one process (the embedded database allows one): jobs wait in memory, run at most
 * `concurrency` at a time, and are tried again with backoff when they throw. Jobs queued when the
 * process ends are lost; schedules fire again and API callers see no run for their request.
 */
export function createInProcessQueue(): JobQueue {
  const waiting: Entry[] = [];
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  let runningCount = 0;
  return {
    kind: 'in-process',
    async add(job, options = {}) {
      if (options.jobKey) {
        const same = waiting.find((e) => e.key === options.jobKey);
        if (same) {
          same.job = job;
          if (options.runAt) same.runAt = options.runAt.getTime();
          return { jobId: same.id };
        }
      }
      const entry: Entry = {
        id: randomUUID(),
        job,
        runAt: options.runAt?.getTime() ?? Date.now(),
        addedAt: Date.now(),
        attempts: 0,
        maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        ...(options.jobKey ? { key: options.jobKey } : {}),
      };
      waiting.push(entry);
      poke();
      return { jobId: entry.id };
    },
    async stats() {
      const now = Date.now();
      const due = waiting.filter((e) => e.runAt <= now);
      const oldest = due.reduce((min, e) => Math.min(min, e.runAt), now);
      return {
        waiting: due.length,
        running: runningCount,
        later: waiting.length - due.length,
        oldestWaitSeconds: (now - oldest) / 1000,
      };
    },
    async startWorker({ concurrency, execute, pollIntervalMs = 1000 }) {
      let stopping = false;
      const abort = new AbortController();
      const active = new Set<Promise<void>>();
      const takeNext = (): Entry | undefined => {
        const now = Date.now();
        const i = waiting.findIndex((e) => e.runAt <= now);
        return i < 0 ? undefined : waiting.splice(i, 1)[0];
      };
      const runEntry = async (entry: Entry) => {
        runningCount++;
        entry.attempts++;
        try {
          await execute(entry.job, abort.signal);
        } catch {
          if (entry.attempts < entry.maxAttempts && !stopping) {
            entry.runAt = Date.now() + backoffMs(entry.attempts);
            waiting.push(entry);
          }
        } finally {
          runningCount--;
        }
      };
      const loop = async () => {
        while (!stopping) {
          while (!stopping && active.size < concurrency) {
            const entry = takeNext();
            if (!entry) break;
            const p = runEntry(entry).finally(() => {
              active.delete(p);
              poke();
            });
            active.add(p);
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, pollIntervalMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      };
      const looping = loop();
      return {
        get running() {
          return active.size;
        },
        async stop(graceMs) {
          stopping = true;
          poke();
          await looping;
          const all = Promise.all(active);
          let timer: NodeJS.Timeout | undefined;
          const graceOver = new Promise<'late'>(
            (resolve) => (timer = setTimeout(() => resolve('late'), graceMs)),
          );
          if ((await Promise.race([all.then(() => 'done' as const), graceOver])) === 'late')
            abort.abort(shutdownStop());
          clearTimeout(timer);
          await all;
        },
      };
    },
    async close() {
      waiting.length = 0;
    },
  };
}

/** The reason runs are aborted with when the grace time of a shutdown is over: they record `stopped`. */
export function shutdownStop(): SluiceError {
  return new SluiceError('STOPPED', 'stopped: the service is shutting down (its grace time is over)');
}
