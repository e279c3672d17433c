import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import type { Database } from '../store/database.js';
import { DEFAULT_CLAIM_TIMEOUT_MS } from '../store/run-claims.js';
import { claimTick, listSchedules, setTickJob, type ScheduleRow } from '../store/schedules.js';
import { silentRequestRuns } from '../store/service-views.js';
import type { PipelineCatalog } from './catalog.js';
import type { JobQueue, QueuedJob } from './queue.js';
import { cronOf } from './schedule-spec.js';

export interface SchedulerOptions {
  db: Database;
  queue: JobQueue;
  catalog: PipelineCatalog;
  logger: Logger;
  /** How often schedules are read again (changes take effect within this). */
  pollMs?: number;
  /** A tick claimed later than this after its time counts as missed (catch-up policy applies). */
  lateAfterMs?: number;
  onTick?: (schedule: string, lagSeconds: number) => void;
}

export interface Scheduler {
  /** Who claims ticks: `host:pid:nonce`. */
  readonly id: string;
  stop(): Promise<void>;
}

/** At most this many missed ticks are looked at per schedule and pass (a seconds cron after a long stop). */
const MAX_TICKS_SCANNED = 10_000;

/** A tick's request id: a tick is one request, whichever process queues it. */
export const tickRequestId = (schedule: string, fireAt: Date) =>
  `schedule:${schedule}:${fireAt.toISOString()}`;

/**
 * What one schedule does at `now`: the ticks due since its last claimed tick (or since it was created or
 * changed), and which of them to fire and which to record as skipped. Every tick but the latest is missed;
 * the latest is missed too when it is later than `lateAfterMs`. `skip` fires only a latest tick on time;
 * `once` fires the latest due tick, on time or not (one run for all the missed ones).
 */
export function planTicks(
  schedule: Pick<ScheduleRow, 'cron' | 'timezone' | 'catchUp' | 'lastFireAt' | 'updatedAt'>,
  now: Date,
  lateAfterMs: number,
): { fire?: Date; skip?: Date } {
  const since = latest(schedule.lastFireAt, schedule.updatedAt);
  const cron = cronOf(schedule);
  let latestDue: Date | undefined;
  let count = 0;
  for (let t = cron.nextRun(since); t && t <= now && count < MAX_TICKS_SCANNED; t = cron.nextRun(t)) {
    latestDue = t;
    count++;
  }
  if (!latestDue) return {};
  const onTime = now.getTime() - latestDue.getTime() <= lateAfterMs;
  if (schedule.catchUp === 'once' || onTime) return { fire: latestDue };
  return { skip: latestDue };
}

function latest(a: string | null, b: string): Date {
  const tb = new Date(b);
  if (!a) return tb;
  const ta = new Date(a);
  return ta > tb ? ta : tb;
}

/**
 * The scheduler of one `serve`: reads the enabled schedules every `pollMs`, and for each tick that came
 * claims it by inserting its `sluice.schedule_ticks` row and, in the same transaction, queues its job:
 * however many schedulers run, the one whose insert wins queues the tick, once. It also rescues the jobs
 * of workers that died mid-run: a run of a queued request whose heartbeat stopped for longer than its
 * claim timeout is queued again under the same request id, and the worker that takes it over resumes it.
 */
export function startScheduler(options: SchedulerOptions): Scheduler {
  const { db, queue, logger } = options;
  const id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const pollMs = options.pollMs ?? 1000;
  const lateAfterMs = options.lateAfterMs ?? 60_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let lastRescue = 0;

  const tickSchedule = async (s: ScheduleRow, now: Date) => {
    const plan = planTicks(s, now, lateAfterMs);
    if (plan.skip) {
      if (await claimTick(db, { schedule: s.name, fireAt: plan.skip, claimedBy: id, outcome: 'skipped' }))
        logger.info(
          `schedule ${s.name}: skipped the tick of ${plan.skip.toISOString()} (missed; catchUp: skip)`,
        );
      return;
    }
    if (!plan.fire) return;
    const fireAt = plan.fire;
    const job: QueuedJob = {
      kind: s.kind,
      ...(s.target ? { target: s.target } : {}),
      options: s.options,
      requestId: tickRequestId(s.name, fireAt),
      origin: `schedule:${s.name}`,
    };
    const claimed = await db.transaction(async (tx) => {
      if (!(await claimTick(tx, { schedule: s.name, fireAt, claimedBy: id, outcome: 'queued' }))) return null;
      const { jobId } = await queue.add(job, { client: tx, jobKey: job.requestId });
      await setTickJob(tx, s.name, fireAt, jobId);
      return jobId;
    });
    if (claimed === null) return;
    const lag = (Date.now() - fireAt.getTime()) / 1000;
    options.onTick?.(s.name, lag);
    logger.info(
      `schedule ${s.name}: tick ${fireAt.toISOString()} queued (job ${claimed}, ${lag.toFixed(3)}s late)`,
    );
  };

  const rescue = async () => {
    const shortest = Math.min(
      DEFAULT_CLAIM_TIMEOUT_MS,
      ...[...options.catalog.specs.values()].map((s) => s.run.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS),
    );
    for (const run of await silentRequestRuns(db, shortest)) {
      const timeout = options.catalog.get(run.pipeline)?.run.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS;
      if (run.silentMs < timeout || !options.catalog.get(run.pipeline)) continue;
      const job: QueuedJob = {
        kind: 'pipeline',
        target: run.pipeline,
        options: { force: true },
        requestId: run.requestId,
        origin: 'rescue',
      };
      // One rescue per silent attempt, whichever scheduler sees it first.
      await queue.add(job, { jobKey: `rescue:${run.id}:${run.attempts}`, keepWaiting: true });
      logger.warn(
        `run ${run.id} of ${run.pipeline} has had no heartbeat since ${run.heartbeatAt}: queued again to be taken over`,
      );
    }
  };

  const pass = async () => {
    const now = new Date();
    for (const s of await listSchedules(db, { enabledOnly: true })) {
      try {
        await tickSchedule(s, now);
      } catch (error) {
        logger.error(`schedule ${s.name}: ${describeError(error)}`);
      }
    }
    if (Date.now() - lastRescue >= 5_000) {
      lastRescue = Date.now();
      await rescue();
    }
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        await pass();
      } catch (error) {
        logger.error(`scheduler: ${describeError(error)}`); // the database is away: try again next pass
      }
      if (stopped) break;
      // Wake at the next whole poll interval, so a tick is seen within pollMs of its time.
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, pollMs - (Date.now() % pollMs) + 5);
      });
    }
  })();

  return {
    id,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
