import type { SqlClient } from '../core/sql.js';

export interface RunMatch {
  id: string;
  pipeline: string;
  started_at: string;
}

/**
 * Runs whose id starts with `prefix` (hexadecimal digits, dashes ignored), newest first, at most `limit`.
 * A range on the primary key rather than a text match: the ids are uuids, so the prefix padded with 0s
 * and with fs bounds every id that starts with it.
 */
export async function findRuns(db: SqlClient, prefix: string, limit: number): Promise<RunMatch[]> {
  const hex = prefix.replaceAll('-', '').toLowerCase();
  if (!/^[0-9a-f]{1,32}$/.test(hex)) return [];
  const asUuid = (h: string) =>
    `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  const { rows } = await db.query<RunMatch>(
    // r.started_at: the bare name would sort the text output column (wrong across a DST change).
    `SELECT id::text AS id, pipeline, started_at::text AS started_at FROM sluice.runs r
      WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY r.started_at DESC LIMIT $3`,
    [asUuid(hex.padEnd(32, '0')), asUuid(hex.padEnd(32, 'f')), limit],
  );
  return rows;
}

/** Whether any run of the pipeline is in the ledger. */
export async function hasPipeline(db: SqlClient, pipeline: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM sluice.runs WHERE pipeline = $1 LIMIT 1', [pipeline]);
  return rows.length > 0;
}

/** The names of the pipelines in the run ledger, sorted. */
export async function pipelineNames(db: SqlClient): Promise<string[]> {
  const { rows } = await db.query<{ pipeline: string }>(
    'SELECT DISTINCT pipeline FROM sluice.runs ORDER BY pipeline',
  );
  return rows.map((r) => r.pipeline);
}

export interface RunFileRow {
  name: string;
  status: 'loaded' | 'rejected' | 'skipped';
  reason: string | null;
  rows_loaded: string;
  rows_rejected: string;
  archived_to: string | null;
}

/** The files a run recorded in the ledger, in the order it handled them. */
export async function runFiles(db: SqlClient, runId: string): Promise<RunFileRow[]> {
  const { rows } = await db.query<RunFileRow>(
    `SELECT name, status, reason, rows_loaded::text AS rows_loaded, rows_rejected::text AS rows_rejected, archived_to
       FROM sluice.files WHERE run_id = $1 ORDER BY id`,
    [runId],
  );
  return rows;
}
