import path from 'node:path';
import { localDate } from '../../core/dates.js';
import { emptyRunSummary, type RunSummary } from '../../core/run-summary.js';
import type { TaskSpec, TaskType } from '../../core/task-spec.js';
import { sendRunNotices, type SendNoticesOptions } from '../../notify/send-notices.js';
import type { Database } from '../../store/database.js';
import { claimRun, HEARTBEAT_MS, newClaimer } from '../../store/run-claims.js';
import { finishRun, runOfRequest } from '../../store/runs.js';
import { StepLog, type LogEntry } from '../../store/step-log.js';
import { setRunKind } from '../../store/task-runs.js';
import { recordFailure } from '../abort.js';
import { followSignal, keepClaim } from '../claim-keeper.js';

/** What a task's action gets: the run it belongs to, its log and its stop signal. */
export interface TaskContext {
  db: Database;
  /** The database's URL when it is a PostgreSQL server (DATABASE_URL); undefined for the embedded one. */
  databaseUrl?: string;
  /** Sluice's folder. */
  home: string;
  runId: string;
  asOf: string;
  log: StepLog;
  /** Aborted on a stop request (Ctrl-C, SIGTERM, shutdown) or when the run's claim is lost. */
  signal: AbortSignal;
  /** Keeps what the task did in its summary, also when it then fails (a command's exit code and output). */
  setResult(result: unknown): void;
}

/** What a task did, for its summary: lines for people and a result for JSON. */
export interface TaskOutcome {
  outcomes: string[];
  result?: unknown;
}

/** The work of one task type. A failure throws (TASK_FAILED, or the error that stopped it). */
export type TaskAction = (context: TaskContext) => Promise<TaskOutcome>;

/** A task's run summary: a run summary with no files, plus what the task did. */
export interface TaskSummary extends RunSummary {
  type: TaskType | 'task';
  result?: unknown;
}

export interface RunTaskOptions {
  db: Database;
  task: TaskSpec;
  /** The task's work (see `taskAction`); separate so that this file needs no task type's imports. */
  action: TaskAction;
  home: string;
  /** The database's URL when it is a PostgreSQL server (backups dump it). */
  databaseUrl?: string;
  asOf?: string;
  signal?: AbortSignal;
  onLog?: (entry: LogEntry) => void;
  /** Notices after the run (default on); options for tests, or false. */
  notices?: false | Partial<Omit<SendNoticesOptions, 'logger'>>;
  /** The request the run is for (a queued job); a request whose run ended is not run again. */
  requestId?: string;
}

/**
 * Runs a task as a pipeline run is run: it claims the task's name in the run ledger (PIPELINE_RUNNING while
 * a live process runs it: a task never runs twice at once), keeps the claim alive, writes its steps to the
 * step log, records the outcome (a failure with its code and message) and sends the task's notices.
 */
export async function runTask(options: RunTaskOptions): Promise<TaskSummary> {
  const { db, task } = options;
  if (options.requestId) {
    const earlier = await runOfRequest(db, options.requestId);
    if (earlier && earlier.status !== 'running' && earlier.status !== 'stopped')
      return {
        ...emptySummary(earlier.id, task, earlier.as_of),
        status: earlier.status === 'succeeded' ? 'succeeded' : 'failed',
        ...(earlier.error
          ? { error: { code: earlier.error_code ?? 'INTERNAL', message: earlier.error } }
          : {}),
        requestId: options.requestId,
        replayed: true,
      };
  }
  const claimer = newClaimer();
  const run = await claimRun(db, {
    pipeline: task.name,
    today: localDate(),
    claimer,
    ...(options.asOf ? { asOf: options.asOf } : {}),
    ...(task.file !== '<inline>' ? { specFile: path.resolve(task.file) } : {}),
    ...(options.requestId ? { requestId: options.requestId } : {}),
  });
  await setRunKind(db, run.id, task.type);
  const summary: TaskSummary = { ...emptySummary(run.id, task, run.asOf), resumed: run.resumed };
  if (options.requestId) summary.requestId = options.requestId;
  const log = new StepLog(
    db,
    { runId: run.id, pipeline: task.name, fallbackDir: path.join(options.home, 'logs') },
    (entry) => {
      if (entry.level === 'warn') summary.warnings.push(entry.message);
      options.onLog?.(entry);
    },
  );
  const started = performance.now();
  const abort = new AbortController();
  const stopFollowing = followSignal(options.signal, abort);
  const stopBeating = keepClaim(db, run.id, claimer.id, HEARTBEAT_MS, abort);

  log.info(`${task.type} task ${task.name} ${run.resumed ? 'resumed' : 'started'}, run ${run.id}`);
  try {
    const done = await options.action({
      db,
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      home: options.home,
      runId: run.id,
      asOf: run.asOf,
      log,
      signal: abort.signal,
      setResult: (result) => {
        summary.result = result;
      },
    });
    summary.outcomes = done.outcomes;
    if (done.result !== undefined) summary.result = done.result;
    for (const line of done.outcomes) log.info(line, { outcome: true });
  } catch (error) {
    recordFailure(summary, error, abort.signal, log, 'task');
  } finally {
    stopBeating();
    stopFollowing();
  }
  summary.durationMs = Math.round(performance.now() - started);
  summary.timings = { [task.type]: summary.durationMs };
  const closed = await finishRun(db, run.id, claimer.id, {
    status: summary.status === 'skipped' ? 'succeeded' : summary.status,
    timings: summary.timings,
    ...(summary.error ? { errorCode: summary.error.code, error: summary.error.message } : {}),
  });
  if (!closed) log.warn(`run ${run.id} was taken over by another process before it ended`);
  log.info(`task ${summary.status}`, { durationMs: summary.durationMs });
  if (task.notify && options.notices !== false)
    await sendRunNotices(db, task, summary, { ...(options.notices ?? {}), logger: log });
  await log.flush();
  return summary;
}

function emptySummary(runId: string, task: TaskSpec, asOf: string): TaskSummary {
  return { ...emptyRunSummary(runId, task.name, asOf, false), type: task.type };
}
