import type { FileCounts } from '../core/run-summary.js';
import type { SqlClient } from '../core/sql.js';
import { formatDuration } from '../core/duration.js';
import { claimLost } from './run-claims.js';

export type { FileCounts } from '../core/run-summary.js';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'stopped';

export interface RunRow {
  id: string;
  pipeline: string;
  status: RunStatus;
  as_of: string;
  dry_run: boolean;
  started_at: string;
  ended_at: string | null;
  attempts: number;
  rows_read: string;
  rows_loaded: string;
  rows_rejected: string;
  files_loaded: number;
  files_rejected: number;
  files_skipped: number;
  /** Units of record sources (tables) loaded. */
  units_loaded: number;
  timings: Record<string, number>;
  error_code: string | null;
  error: string | null;
  request_id: string | null;
}

/**
 * Adds one unit's counts to its run, inside the unit's transaction so the counts are exactly-once too.
 * It is also the unit's fence: when the run is no longer held by `claimer` (taken over by another
 * process), it throws and the unit's transaction rolls back. A dry run (no claim) passes null.
 */
export async function addRunCounts(
  tx: SqlClient,
  runId: string,
  claimer: string | null,
  c: Partial<FileCounts> & { unitsLoaded?: number },
): Promise<void> {
  const { rowCount } = await tx.query(
    `UPDATE sluice.runs SET rows_read = rows_read + $2, rows_loaded = rows_loaded + $3, rows_rejected = rows_rejected + $4,
       files_loaded = files_loaded + $5, files_rejected = files_rejected + $6, files_skipped = files_skipped + $7,
       units_loaded = units_loaded + $9, heartbeat_at = now()
     WHERE id = $1 AND locked_by IS NOT DISTINCT FROM $8`,
    [
      runId,
      c.rowsRead ?? 0,
      c.rowsLoaded ?? 0,
      c.rowsRejected ?? 0,
      c.filesLoaded ?? 0,
      c.filesRejected ?? 0,
      c.filesSkipped ?? 0,
      claimer,
      c.unitsLoaded ?? 0,
    ],
  );
  if (rowCount === 0) throw claimLost(runId);
}

/**
 * Closes a run and releases its claim; timings add to those of earlier attempts. Undefined when the run
 * was taken over meanwhile (the other attempt closes it).
 */
export async function finishRun(
  db: SqlClient,
  runId: string,
  claimer: string | null,
  outcome: {
    status: 'succeeded' | 'failed' | 'stopped';
    timings: Record<string, number>;
    errorCode?: string;
    error?: string;
  },
): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `UPDATE sluice.runs r SET status = $2, ended_at = now(), error_code = $3, error = $4, locked_by = NULL,
       timings = (SELECT coalesce(jsonb_object_agg(k, coalesce((r.timings->>k)::numeric, 0) + coalesce((n.t->>k)::numeric, 0)), '{}'::jsonb)
                  FROM (SELECT $5::jsonb AS t) n, jsonb_object_keys(r.timings || n.t) AS k)
     WHERE id = $1 AND locked_by IS NOT DISTINCT FROM $6 RETURNING *`,
    [
      runId,
      outcome.status,
      outcome.errorCode ?? null,
      outcome.error ?? null,
      JSON.stringify(outcome.timings),
      claimer,
    ],
  );
  return rows[0];
}

/** Whether a record unit of the run committed yet (they leave no ledger rows), for `replace`. */
export async function runHasUnitLoads(tx: SqlClient, runId: string): Promise<boolean> {
  const { rows } = await tx.query<{ n: number }>('SELECT units_loaded AS n FROM sluice.runs WHERE id = $1', [
    runId,
  ]);
  return (rows[0]?.n ?? 0) > 0;
}

/** The run started for a request (a queued job, an API call), if one was. */
export async function runOfRequest(db: SqlClient, requestId: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT * FROM sluice.runs WHERE request_id = $1`, [requestId]);
  return rows[0];
}

export async function getRun(db: SqlClient, runId: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT * FROM sluice.runs WHERE id = $1`, [runId]);
  return rows[0];
}

export async function listRuns(
  db: SqlClient,
  options: { pipeline?: string; limit?: number } = {},
): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT * FROM sluice.runs WHERE ($1::text IS NULL OR pipeline = $1) ORDER BY started_at DESC LIMIT $2`,
    [options.pipeline ?? null, options.limit ?? 20],
  );
  return rows;
}

/** When the pipeline's last successful (real) run started, for its refresh window. */
export async function lastSuccessfulStart(db: SqlClient, pipeline: string): Promise<Date | undefined> {
  const { rows } = await db.query<{ started_at: Date | string | null }>(
    `SELECT max(started_at) AS started_at FROM sluice.runs WHERE pipeline = $1 AND status = 'succeeded' AND NOT dry_run`,
    [pipeline],
  );
  const at = rows[0]?.started_at;
  return at ? new Date(at) : undefined;
}

export interface StaleRun {
  id: string;
  pipeline: string;
  host: string | null;
  pid: number | null;
  heartbeatAt: string;
  maxRunMs: number;
  specFile: string | null;
}

/** Runs marked running whose heartbeat stopped for longer than their maximum run time (or the default). */
export async function findStaleRuns(db: SqlClient, defaultMaxRunMs: number): Promise<StaleRun[]> {
  const { rows } = await db.query<{
    id: string;
    pipeline: string;
    host: string | null;
    pid: number | null;
    heartbeat_at: Date | string;
    max_run_ms: string | null;
    spec_file: string | null;
  }>(
    `SELECT id, pipeline, host, pid, heartbeat_at, max_run_ms, spec_file FROM sluice.runs
      WHERE status = 'running' AND NOT dry_run
        AND heartbeat_at < now() - coalesce(max_run_ms, $1) * interval '1 millisecond'
      ORDER BY started_at`,
    [defaultMaxRunMs],
  );
  return rows.map((r) => ({
    id: r.id,
    pipeline: r.pipeline,
    host: r.host,
    pid: r.pid,
    heartbeatAt: new Date(r.heartbeat_at).toISOString(),
    maxRunMs: r.max_run_ms === null ? defaultMaxRunMs : Number(r.max_run_ms),
    specFile: r.spec_file,
  }));
}

/**
 * Marks a stale run failed (reaped) and releases its claim, unless it beat again since it was found.
 * Returns whether it was reaped.
 */
export async function reapRun(db: SqlClient, run: StaleRun): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE sluice.runs SET status = 'failed', ended_at = now(), reaped_at = now(), error_code = 'ABORTED',
       locked_by = NULL, error = $2
     WHERE id = $1 AND status = 'running' AND heartbeat_at < $3::timestamptz + interval '1 millisecond'`,
    [
      run.id,
      `reaped by cleanup: no heartbeat since ${run.heartbeatAt} (maximum run time ${formatDuration(run.maxRunMs)})`,
      run.heartbeatAt,
    ],
  );
  return rowCount > 0;
}

/** Pipelines whose latest real run failed, with the file that defines them (when recorded). */
export async function latestFailedRuns(
  db: SqlClient,
): Promise<{ pipeline: string; runId: string; specFile: string | null }[]> {
  const { rows } = await db.query<{ pipeline: string; id: string; spec_file: string | null }>(
    `SELECT pipeline, id, spec_file FROM (
       SELECT DISTINCT ON (pipeline) pipeline, id, spec_file, status FROM sluice.runs
        WHERE NOT dry_run ORDER BY pipeline, started_at DESC) latest
      WHERE status = 'failed' ORDER BY pipeline`,
  );
  return rows.map((r) => ({ pipeline: r.pipeline, runId: r.id, specFile: r.spec_file }));
}

/**
 * Closes the runs a restored backup records as running: the copy was taken while they ran (the backup's
 * own run at least) and no process of the restored database holds them, so they would show as running
 * until cleanup reaps them. Only runs started before the copy was made (`takenAt`) are touched: a run a
 * process starts on the restored database is its own. Returns how many were closed.
 */
export async function closeRunsOfCopy(db: SqlClient, takenAt: Date, copy: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE sluice.runs SET status = 'interrupted', ended_at = heartbeat_at, locked_by = NULL,
       error = coalesce(error, $2)
     WHERE status = 'running' AND started_at <= $1`,
    [takenAt, `was running when the backup ${copy} was taken; closed when it was restored`],
  );
  return rowCount;
}
