import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { SqlClient } from '../core/sql.js';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

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
}

export interface StartedRun {
  id: string;
  asOf: string;
  /** This attempt continues a run whose process stopped before it finished. */
  resumed: boolean;
}

/**
 * Opens the run ledger entry of a run. Call it holding the pipeline's lock: any run of the pipeline still
 * marked running then belongs to a process that is gone. A normal run resumes the last such run (same id,
 * same as-of date) so that a crash and a rerun add up to one clean run; other leftovers are marked
 * interrupted.
 */
export async function startRun(
  db: SqlClient,
  options: {
    pipeline: string;
    asOf?: string;
    dryRun: boolean;
    today: string;
    maxRunMs?: number;
    specFile?: string;
  },
): Promise<StartedRun> {
  const { rows: orphans } = await db.query<{ id: string; as_of: string }>(
    `SELECT id, as_of FROM sluice.runs WHERE pipeline = $1 AND status = 'running' AND NOT dry_run ORDER BY started_at DESC`,
    [options.pipeline],
  );
  const resumable = options.dryRun
    ? undefined
    : orphans.find((o) => !options.asOf || o.as_of === options.asOf);
  const stale = orphans.filter((o) => o !== resumable).map((o) => o.id);
  if (stale.length > 0) {
    await db.query(
      `UPDATE sluice.runs SET status = 'interrupted', ended_at = now(),
         error = coalesce(error, 'the process stopped before the run finished')
       WHERE id = ANY($1::uuid[])`,
      [stale],
    );
  }
  if (resumable) {
    await db.query(
      `UPDATE sluice.runs SET attempts = attempts + 1, heartbeat_at = now(), host = $2, pid = $3, max_run_ms = $4, spec_file = $5
        WHERE id = $1`,
      [resumable.id, os.hostname(), process.pid, options.maxRunMs ?? null, options.specFile ?? null],
    );
    return { id: resumable.id, asOf: resumable.as_of, resumed: true };
  }
  const id = randomUUID();
  const asOf = options.asOf ?? options.today;
  await db.query(
    `INSERT INTO sluice.runs (id, pipeline, status, as_of, dry_run, host, pid, max_run_ms, spec_file)
     VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8)`,
    [
      id,
      options.pipeline,
      asOf,
      options.dryRun,
      os.hostname(),
      process.pid,
      options.maxRunMs ?? null,
      options.specFile ?? null,
    ],
  );
  return { id, asOf, resumed: false };
}

export interface FileCounts {
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  filesLoaded: number;
  filesRejected: number;
  filesSkipped: number;
}

/** Adds one file's counts to its run, inside the file's transaction so the counts are exactly-once too. */
export async function addRunCounts(tx: SqlClient, runId: string, c: Partial<FileCounts>): Promise<void> {
  await tx.query(
    `UPDATE sluice.runs SET rows_read = rows_read + $2, rows_loaded = rows_loaded + $3, rows_rejected = rows_rejected + $4,
       files_loaded = files_loaded + $5, files_rejected = files_rejected + $6, files_skipped = files_skipped + $7,
       heartbeat_at = now()
     WHERE id = $1`,
    [
      runId,
      c.rowsRead ?? 0,
      c.rowsLoaded ?? 0,
      c.rowsRejected ?? 0,
      c.filesLoaded ?? 0,
      c.filesRejected ?? 0,
      c.filesSkipped ?? 0,
    ],
  );
}

export async function heartbeat(db: SqlClient, runId: string): Promise<void> {
  await db.query(`UPDATE sluice.runs SET heartbeat_at = now() WHERE id = $1`, [runId]);
}

/** Closes a run; timings add to those of earlier attempts. */
export async function finishRun(
  db: SqlClient,
  runId: string,
  outcome: {
    status: 'succeeded' | 'failed';
    timings: Record<string, number>;
    errorCode?: string;
    error?: string;
  },
): Promise<RunRow> {
  const { rows } = await db.query<RunRow>(
    `UPDATE sluice.runs r SET status = $2, ended_at = now(), error_code = $3, error = $4,
       timings = (SELECT coalesce(jsonb_object_agg(k, coalesce((r.timings->>k)::numeric, 0) + coalesce((n.t->>k)::numeric, 0)), '{}'::jsonb)
                  FROM (SELECT $5::jsonb AS t) n, jsonb_object_keys(r.timings || n.t) AS k)
     WHERE id = $1 RETURNING *`,
    [
      runId,
      outcome.status,
      outcome.errorCode ?? null,
      outcome.error ?? null,
      JSON.stringify(outcome.timings),
    ],
  );
  return rows[0]!;
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
  heartbeatAt: string;
  maxRunMs: number;
  specFile: string | null;
}

/** Runs marked running whose heartbeat stopped for longer than their maximum run time (or the default). */
export async function findStaleRuns(db: SqlClient, defaultMaxRunMs: number): Promise<StaleRun[]> {
  const { rows } = await db.query<{
    id: string;
    pipeline: string;
    heartbeat_at: Date | string;
    max_run_ms: string | null;
    spec_file: string | null;
  }>(
    `SELECT id, pipeline, heartbeat_at, max_run_ms, spec_file FROM sluice.runs
      WHERE status = 'running' AND NOT dry_run
        AND heartbeat_at < now() - coalesce(max_run_ms, $1) * interval '1 millisecond'
      ORDER BY started_at`,
    [defaultMaxRunMs],
  );
  return rows.map((r) => ({
    id: r.id,
    pipeline: r.pipeline,
    heartbeatAt: new Date(r.heartbeat_at).toISOString(),
    maxRunMs: r.max_run_ms === null ? defaultMaxRunMs : Number(r.max_run_ms),
    specFile: r.spec_file,
  }));
}

/** Marks a stale run failed (reaped) and drops its lease, in one transaction. */
export async function reapRun(tx: SqlClient, run: StaleRun): Promise<void> {
  await tx.query(
    `UPDATE sluice.runs SET status = 'failed', ended_at = now(), reaped_at = now(), error_code = 'ABORTED',
       error = $2 WHERE id = $1 AND status = 'running'`,
    [
      run.id,
      `reaped by cleanup: no heartbeat since ${run.heartbeatAt} (maximum run time ${run.maxRunMs} ms)`,
    ],
  );
  await tx.query('DELETE FROM sluice.leases WHERE run_id = $1', [run.id]);
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
