import type { SqlClient } from '../core/sql.js';

/** A header of the file and the column it became (null: the table does not take it). */
export interface ColumnMapping {
  header: string;
  column: string | null;
}

export type DatasetStatus = 'new' | 'active' | 'inactive' | 'failed' | 'empty';

/** A row of `sluice.datasets`. */
export interface DatasetRow {
  id: string;
  label: string;
  date: string | null;
  rule: string;
  target_table: string;
  status: DatasetStatus;
  row_count: number;
  file_id: string | null;
  file_name: string;
  run_id: string | null;
  column_map: ColumnMapping[];
  error: string | null;
  superseded_by: string | null;
  created_at: string;
}

interface NewDataset {
  label: string;
  date: string | null;
  rule: string;
  targetTable: string;
  fileName: string;
}

/**
 * Opens a dataset (status `new`) inside the load's transaction, so that its rows can carry its id; it is
 * never seen as `new` by others unless the load is still running.
 */
export async function openDataset(tx: SqlClient, d: NewDataset): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO sluice.datasets (label, date, rule, target_table, status, file_name)
     VALUES ($1, $2::date, $3, $4, 'new', $5) RETURNING id::text`,
    [d.label, d.date, d.rule, d.targetTable, d.fileName],
  );
  return rows[0]!.id;
}

/**
 * Makes a dataset the current one of its label and date (`active`, or `empty` when it has no rows): the
 * one it replaces becomes `inactive`. Runs in the load's transaction, so both change together or not at all;
 * imports of the same label queue on a transaction lock, so two can never both be current.
 */
export async function activateDataset(
  tx: SqlClient,
  d: {
    id: string;
    label: string;
    date: string | null;
    rowCount: number;
    fileId: string | null;
    runId: string;
    columnMap: ColumnMapping[];
  },
): Promise<{ status: 'active' | 'empty'; superseded: string[] }> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`sluice:dataset:${d.label}`]);
  const superseded = await tx.query<{ id: string }>(
    `UPDATE sluice.datasets SET status = 'inactive', superseded_by = $1, updated_at = now()
      WHERE label = $2 AND date IS NOT DISTINCT FROM $3::date AND status IN ('active', 'empty') AND id <> $1
      RETURNING id::text`,
    [d.id, d.label, d.date],
  );
  const status = d.rowCount > 0 ? 'active' : 'empty';
  await tx.query(
    `UPDATE sluice.datasets SET status = $2, date = $3::date, row_count = $4, file_id = $5, run_id = $6,
            column_map = $7::jsonb, updated_at = now()
      WHERE id = $1`,
    [d.id, status, d.date, d.rowCount, d.fileId, d.runId, JSON.stringify(d.columnMap)],
  );
  return { status, superseded: superseded.rows.map((r) => r.id) };
}

/** Records a file whose import failed or was rejected: a `failed` dataset saying why. */
export async function recordFailedDataset(
  db: SqlClient,
  d: NewDataset & { fileId: string | null; runId: string | null; error: string },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO sluice.datasets (label, date, rule, target_table, status, file_name, file_id, run_id, error)
     VALUES ($1, $2::date, $3, $4, 'failed', $5, $6, $7, $8) RETURNING id::text`,
    [d.label, d.date, d.rule, d.targetTable, d.fileName, d.fileId, d.runId, d.error],
  );
  return rows[0]!.id;
}

/** Datasets, newest first, optionally of one rule or label. */
export async function listDatasets(
  db: SqlClient,
  options: { rule?: string; label?: string; limit?: number } = {},
): Promise<DatasetRow[]> {
  // d.id: a bare `id` in ORDER BY names the text output column and sorts 10 before 9.
  const { rows } = await db.query<DatasetRow>(
    `SELECT id::text, label, date::text, rule, target_table, status, row_count::int AS row_count,
            file_id::text, file_name, run_id::text, column_map, error, superseded_by::text,
            created_at::text
       FROM sluice.datasets d
      WHERE ($1::text IS NULL OR rule = $1) AND ($2::text IS NULL OR label = $2)
      ORDER BY d.id DESC LIMIT $3`,
    [options.rule ?? null, options.label ?? null, options.limit ?? 100],
  );
  return rows;
}

/** The failed dataset a run recorded for a file, if it did. */
export async function failedDatasetOf(
  db: SqlClient,
  runId: string,
  fileName: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT d.id::text FROM sluice.datasets d WHERE run_id = $1 AND file_name = $2 AND status = 'failed'
      ORDER BY d.id DESC LIMIT 1`,
    [runId, fileName],
  );
  return rows[0]?.id;
}

/** One label of imported datasets: its imports counted, the current one (active or empty), the latest. */
export interface DatasetLabelRow {
  label: string;
  rule: string;
  target_table: string;
  imports: number;
  current_id: string | null;
  latest_at: string;
}

/**
 * The labels of imported datasets: each label is a dataset whose versions are its imports (the active
 * one is current), as a lake dataset's versions are files behind its pointer.
 */
export async function listDatasetLabels(db: SqlClient): Promise<DatasetLabelRow[]> {
  const { rows } = await db.query<DatasetLabelRow>(
    `SELECT label, min(rule) AS rule, min(target_table) AS target_table, count(*)::int AS imports,
            (max(id) FILTER (WHERE status IN ('active', 'empty')))::text AS current_id,
            max(created_at)::text AS latest_at
       FROM sluice.datasets GROUP BY label ORDER BY label`,
  );
  return rows;
}
