import path from 'node:path';
import type { z } from 'zod';
import { describeError, isSluiceError } from '../core/errors.js';
import {
  backupOptionsSchema,
  commandOptionsSchema,
  maintenanceOptionsSchema,
  type TaskSpec,
} from '../core/task-spec.js';
import { runTask } from '../runner/tasks/run-task.js';
import { taskAction } from '../runner/tasks/task-action.js';
import type { NewSchedule } from '../store/schedules.js';
import { saveSchedule } from '../store/schedules.js';
import type { Database } from '../store/database.js';
import type { JobContext, JobKind, JobOutcome } from './job-kinds.js';

// The operations kinds: a command, maintenance (retention) and a backup, each run as a task in the run
// ledger (claimed, so never twice at once; a job delivered twice runs once). The target names the task's
// run in the ledger. A schedule keeps no file: give absolute paths in its options.

/** A kind, typed by its options schema (as `defineJobKind`, without importing job-kinds.ts back). */
const kind = <S extends z.ZodType>(k: JobKind<S>): JobKind<S> => k;

async function runAsJob(context: JobContext, task: TaskSpec, signal: AbortSignal): Promise<JobOutcome> {
  try {
    const summary = await runTask({
      db: context.db,
      task,
      action: taskAction(task),
      home: context.home,
      // The worker's own database, for a backup that names no url.
      ...(context.db.kind === 'postgres' && process.env.DATABASE_URL
        ? { databaseUrl: process.env.DATABASE_URL }
        : {}),
      signal,
      requestId: context.requestId,
    });
    return {
      status: summary.status,
      runIds: [summary.runId],
      ...(summary.error
        ? { message: summary.error.message }
        : summary.outcomes?.length
          ? { message: summary.outcomes.join('; ') }
          : {}),
    };
  } catch (error) {
    // Another process runs this task now: try the job again later.
    if (isSluiceError(error, 'PIPELINE_RUNNING'))
      return { status: 'failed', runIds: [], message: describeError(error), retry: true };
    throw error;
  }
}

const commandKind = kind({
  name: 'command',
  summary:
    'Run a command (program, args, cwd, env, timeout; no shell unless shell: true); the target names its runs.',
  target: 'required',
  options: commandOptionsSchema,
  run: (context, target, options, signal) =>
    runAsJob(
      context,
      {
        name: target!,
        type: 'command',
        file: '<inline>',
        options: { ...options, cwd: path.resolve(context.home, options.cwd ?? '.') },
      },
      signal,
    ),
});

const maintenanceKind = kind({
  name: 'maintenance',
  summary: 'Purge old step logs, rejects, ledger entries, runs and old files, as `sluice maintenance`.',
  target: 'optional',
  options: maintenanceOptionsSchema,
  run: (context, target, options, signal) =>
    runAsJob(
      context,
      { name: target ?? 'maintenance', type: 'maintenance', file: '<inline>', options },
      signal,
    ),
});

const backupKind = kind({
  name: 'backup',
  summary: "Back up Sluice's database (or options.url) into a dated file with retention, as `sluice backup`.",
  target: 'optional',
  options: backupOptionsSchema.partial({ dir: true }),
  run: (context, target, options, signal) =>
    runAsJob(
      context,
      {
        name: target ?? 'backup',
        type: 'backup',
        file: '<inline>',
        options: { ...options, dir: path.resolve(context.home, options.dir ?? 'backups') },
      },
      signal,
    ),
});

/** The operations kinds, for JOB_KINDS. */
export const OPS_JOB_KINDS = [commandKind, maintenanceKind, backupKind] as JobKind[];

/**
 * Schedules a service has unless told otherwise: maintenance with the default ages every Sunday at 03:00
 * UTC. Saved only when no schedule of that name exists, so one edited or disabled stays as it is.
 */
export const DEFAULT_SCHEDULES: readonly NewSchedule[] = [
  {
    name: 'maintenance',
    cron: '0 3 * * 0',
    timezone: 'UTC',
    kind: 'maintenance',
    target: null,
    options: {},
    enabled: true,
    catchUp: 'once',
  },
];

/** Saves the {@link DEFAULT_SCHEDULES} that are missing; returns the names saved. */
export async function ensureDefaultSchedules(db: Database): Promise<string[]> {
  const saved: string[] = [];
  for (const s of DEFAULT_SCHEDULES) if (await saveSchedule(db, s)) saved.push(s.name);
  return saved;
}
