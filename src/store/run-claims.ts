import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { sqlState } from '../core/database-errors.js';
import { formatDuration } from '../core/duration.js';
import { SluiceError } from '../core/errors.js';
import type { SqlClient } from '../core/sql.js';
import type { Database } from './database.js';
import { isProcessAlive } from './process-alive.js';

/**
 * Who holds a run: one process attempt, named `host:pid:nonce`. The nonce tells a resumed attempt of the
 * same process from the one it replaced.
 */
export interface Claimer {
  id: string;
  host: string;
  pid: number;
}

export function newClaimer(): Claimer {
  const host = os.hostname();
  return { id: `${host}:${process.pid}:${randomUUID().slice(0, 8)}`, host, pid: process.pid };
}

/** How often a running run renews its claim. */
export const HEARTBEAT_MS = 15_000;

/**
 * How long a claim lives without a heartbeat before another process may take it over. A claim of this
 * host whose process is gone is taken over at once.
 */
export const DEFAULT_CLAIM_TIMEOUT_MS = 2 * 60_000;

export interface ClaimedRun {
  id: string;
  asOf: string;
  /** This attempt continues a run that stopped, or whose process died, before it finished. */
  resumed: boolean;
  /** The claim this attempt took over from a process that stopped beating. */
  takenOverFrom?: { host: string; pid: number; heartbeatAt: string };
}

interface OpenRun {
  id: string;
  as_of: string;
  status: 'running' | 'stopped';
  host: string | null;
  pid: number | null;
  heartbeat_at: Date | string;
  started_at: Date | string;
  stale: boolean;
}

/**
 * Claims the pipeline for a run, in one short transaction: no connection stays held afterwards.
 * A run still claimed by a live process refuses with PIPELINE_RUNNING. Otherwise the newest run that
 * stopped or whose process died is resumed (same id and as-of date, so a crash and a rerun add up to one
 * clean run) when its as-of date fits, and older leftovers are marked interrupted; or a new run starts.
 * The partial unique index `runs_one_running` makes two claims of one pipeline impossible, whatever the
 * timing between processes and machines.
 */
export async function claimRun(
  db: Database,
  options: {
    pipeline: string;
    asOf?: string;
    today: string;
    claimer: Claimer;
    claimTimeoutMs?: number;
    maxRunMs?: number;
    specFile?: string;
    /** The request (a queued job, an API call) the run is for; a resumed run keeps the one it had. */
    requestId?: string;
  },
): Promise<ClaimedRun> {
  const timeout = options.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS;
  try {
    return await db.transaction(async (tx) => {
      const { rows } = await tx.query<OpenRun>(
        `SELECT id, as_of, status, host, pid, heartbeat_at, started_at,
                heartbeat_at < now() - $2 * interval '1 millisecond' AS stale
           FROM sluice.runs
          WHERE pipeline = $1 AND status IN ('running', 'stopped') AND NOT dry_run
          ORDER BY started_at DESC
          FOR UPDATE SKIP LOCKED`,
        [options.pipeline, timeout],
      );
      const live = rows.find((r) => r.status === 'running' && isAlive(r, options.claimer));
      if (live) throw runningError(options.pipeline, live, timeout);
      const resumable = rows.find((r) => !options.asOf || r.as_of === options.asOf);
      const leftovers = rows.filter((r) => r !== resumable).map((r) => r.id);
      if (leftovers.length > 0) await markInterrupted(tx, leftovers);
      const c = options.claimer;
      if (resumable) {
        await tx.query(
          `UPDATE sluice.runs SET status = 'running', locked_by = $2, locked_at = now(), heartbeat_at = now(),
                  attempts = attempts + 1, host = $3, pid = $4, max_run_ms = $5, spec_file = $6,
                  ended_at = NULL, error = NULL, error_code = NULL, request_id = coalesce(request_id, $7)
            WHERE id = $1`,
          [
            resumable.id,
            c.id,
            c.host,
            c.pid,
            options.maxRunMs ?? null,
            options.specFile ?? null,
            options.requestId ?? null,
          ],
        );
        return {
          id: resumable.id,
          asOf: resumable.as_of,
          resumed: true,
          ...(resumable.status === 'running'
            ? {
                takenOverFrom: {
                  host: resumable.host ?? '?',
                  pid: resumable.pid ?? 0,
                  heartbeatAt: new Date(resumable.heartbeat_at).toISOString(),
                },
              }
            : {}),
        };
      }
      const id = randomUUID();
      const asOf = options.asOf ?? options.today;
      await tx.query(
        `INSERT INTO sluice.runs (id, pipeline, status, as_of, dry_run, host, pid, max_run_ms, spec_file, locked_by, locked_at, request_id)
         VALUES ($1, $2, 'running', $3, false, $4, $5, $6, $7, $8, now(), $9)`,
        [
          id,
          options.pipeline,
          asOf,
          c.host,
          c.pid,
          options.maxRunMs ?? null,
          options.specFile ?? null,
          c.id,
          options.requestId ?? null,
        ],
      );
      return { id, asOf, resumed: false };
    });
  } catch (error) {
    // Another process claimed it between our read and our write (or holds its row locked right now).
    if (sqlState(error) === '23505') throw await runningNow(db, options.pipeline, timeout);
    throw error;
  }
}

/** Refuses with PIPELINE_RUNNING when a live process holds the pipeline (a dry run takes no claim). */
export async function assertNotRunning(
  db: SqlClient,
  pipeline: string,
  claimer: Claimer,
  claimTimeoutMs = DEFAULT_CLAIM_TIMEOUT_MS,
): Promise<void> {
  const live = (await openRuns(db, pipeline, claimTimeoutMs)).find((r) => isAlive(r, claimer));
  if (live) throw runningError(pipeline, live, claimTimeoutMs);
}

/** The run row of a dry run, written inside its transaction (rolled back with it). */
export async function startDryRun(
  tx: SqlClient,
  options: { pipeline: string; asOf?: string; today: string; claimer: Claimer },
): Promise<ClaimedRun> {
  const id = randomUUID();
  const asOf = options.asOf ?? options.today;
  await tx.query(
    `INSERT INTO sluice.runs (id, pipeline, status, as_of, dry_run, host, pid) VALUES ($1, $2, 'running', $3, true, $4, $5)`,
    [id, options.pipeline, asOf, options.claimer.host, options.claimer.pid],
  );
  return { id, asOf, resumed: false };
}

/** Renews the claim; false when the run is no longer this claimer's (another process took it over). */
export async function renewClaim(db: SqlClient, runId: string, claimer: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE sluice.runs SET heartbeat_at = now() WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
    [runId, claimer],
  );
  return rowCount > 0;
}

/** The error every commit of a run raises once its claim went to another process. */
export function claimLost(runId: string): SluiceError {
  return new SluiceError(
    'ABORTED',
    `run ${runId} was taken over by another process (its heartbeat was late): this attempt stops`,
  );
}

async function markInterrupted(tx: SqlClient, ids: string[]) {
  await tx.query(
    `UPDATE sluice.runs SET status = 'interrupted', ended_at = now(), locked_by = NULL,
       error = coalesce(error, 'the process stopped before the run finished')
     WHERE id = ANY($1::uuid[])`,
    [ids],
  );
}

async function openRuns(db: SqlClient, pipeline: string, timeoutMs: number): Promise<OpenRun[]> {
  const { rows } = await db.query<OpenRun>(
    `SELECT id, as_of, status, host, pid, heartbeat_at, started_at,
            heartbeat_at < now() - $2 * interval '1 millisecond' AS stale
       FROM sluice.runs WHERE pipeline = $1 AND status = 'running' AND NOT dry_run`,
    [pipeline, timeoutMs],
  );
  return rows;
}

async function runningNow(db: SqlClient, pipeline: string, timeoutMs: number): Promise<SluiceError> {
  const run = (await openRuns(db, pipeline, timeoutMs))[0];
  return run
    ? runningError(pipeline, run, timeoutMs)
    : new SluiceError('PIPELINE_RUNNING', `pipeline ${pipeline} is being claimed by another process`, {
        retryable: true,
      });
}

/** A claim is alive unless its heartbeat is older than the timeout, or its process on this host is gone. */
function isAlive(run: OpenRun, me: Claimer): boolean {
  if (run.stale) return false;
  if (run.host === me.host && run.pid !== null && run.pid !== me.pid) return isProcessAlive(run.pid);
  return true;
}

function runningError(pipeline: string, run: OpenRun, timeoutMs: number): SluiceError {
  const since = new Date(run.started_at).toISOString();
  const beat = new Date(run.heartbeat_at).toISOString();
  return new SluiceError(
    'PIPELINE_RUNNING',
    `pipeline ${pipeline} is already running since ${since}, run ${run.id} (process ${run.pid} on ${run.host}, last heartbeat ${beat})`,
    {
      hint: `Wait for it to finish; a pipeline never runs twice at once. A run whose process is gone is taken over ${formatDuration(timeoutMs)} after its last heartbeat.`,
    },
  );
}
