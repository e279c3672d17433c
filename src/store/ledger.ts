import type { SqlClient } from '../core/sql.js';

export type FileStatus = 'loaded' | 'rejected' | 'skipped';

export interface LedgerEntry {
  id: string;
  run_id: string;
  name: string;
  status: FileStatus;
  archived_at: string | null;
}

/** The entry under which this content was loaded by the pipeline, if it was. */
export async function findLoaded(
  db: SqlClient,
  pipeline: string,
  sha256: string,
): Promise<LedgerEntry | undefined> {
  const { rows } = await db.query<LedgerEntry>(
    `SELECT id::text, run_id, name, status, archived_at FROM sluice.files WHERE pipeline = $1 AND sha256 = $2 AND status = 'loaded'`,
    [pipeline, sha256],
  );
  return rows[0];
}

export interface NewLedgerEntry {
  pipeline: string;
  runId: string;
  source: string;
  name: string;
  size: number;
  sha256: string;
  status: FileStatus;
  reason?: string | null;
  duplicateOf?: string | null;
}

/** Records a file. A second `loaded` entry for the same content fails on the unique index: once, ever. */
export async function recordFile(tx: SqlClient, entry: NewLedgerEntry): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO sluice.files (pipeline, run_id, source, name, size, sha256, status, reason, duplicate_of)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id::text`,
    [
      entry.pipeline,
      entry.runId,
      entry.source,
      entry.name,
      entry.size,
      entry.sha256,
      entry.status,
      entry.reason ?? null,
      entry.duplicateOf ?? null,
    ],
  );
  return rows[0]!.id;
}

export async function setFileCounts(
  tx: SqlClient,
  id: string,
  counts: { rowsRead: number; rowsLoaded: number; rowsRejected: number },
): Promise<void> {
  await tx.query(
    `UPDATE sluice.files SET rows_read = $2, rows_loaded = $3, rows_rejected = $4 WHERE id = $1`,
    [id, counts.rowsRead, counts.rowsLoaded, counts.rowsRejected],
  );
}

export async function markArchived(db: SqlClient, ids: string[], archive: string): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE sluice.files SET archived_to = $2, archived_at = now() WHERE id = ANY($1::bigint[])`,
    [ids, archive],
  );
}

/** Whether the run has loaded anything yet (for `replace`: the first load of a run empties the table). */
export async function runHasLoads(tx: SqlClient, runId: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `SELECT 1 FROM sluice.files WHERE run_id = $1 AND status = 'loaded' LIMIT 1`,
    [runId],
  );
  return rowCount > 0;
}
