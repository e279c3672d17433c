import type { Column } from '../../../core/records.js';
import type { SqlClient } from '../../../core/sql.js';

// The lake's bookkeeping in the control plane (migration 008), one function per statement. The loader
// runs them in the run's transactions; `sluice dataset` reads and changes them.

export type VersionStatus = 'staged' | 'ready' | 'published' | 'pruned';

export interface LakeVersionRow {
  dataset: string;
  version: string;
  status: VersionStatus;
  mode: 'full' | 'delta';
  based_on: string | null;
  run_ids: string[];
  rows: string;
  manifest_key: string | null;
  manifest: Record<string, unknown> | null;
  columns: Column[] | null;
  created_at: string;
  published_at: string | null;
}

export interface LakeFileRow {
  key: string;
  partition: string;
  unit_key: string;
  rows: string;
  bytes: string;
  sha256: string;
  series: string[];
  min_time: string | null;
  max_time: string | null;
}

export interface LakeDatasetRow {
  id: string;
  location: string;
  settings: Record<string, unknown>;
  current_version: string | null;
  updated_at: string;
}

export async function upsertLakeDataset(
  tx: SqlClient,
  d: { id: string; location: string; settings: Record<string, unknown> },
): Promise<void> {
  await tx.query(
    `INSERT INTO sluice.lake_datasets (id, location, settings) VALUES ($1, $2, $3::jsonb)
     ON CONFLICT (id) DO UPDATE SET location = EXCLUDED.location, settings = EXCLUDED.settings, updated_at = now()`,
    [d.id, d.location, JSON.stringify(d.settings)],
  );
}

export async function lakeDataset(db: SqlClient, id: string): Promise<LakeDatasetRow | undefined> {
  const { rows } = await db.query<LakeDatasetRow>(
    `SELECT id, location, settings, current_version, updated_at::text FROM sluice.lake_datasets WHERE id = $1`,
    [id],
  );
  return rows[0];
}

export async function lakeDatasets(db: SqlClient): Promise<(LakeDatasetRow & { versions: number })[]> {
  const { rows } = await db.query<LakeDatasetRow & { versions: number }>(
    `SELECT d.id, d.location, d.settings, d.current_version, d.updated_at::text,
            (SELECT count(*)::int FROM sluice.lake_versions v
              WHERE v.dataset = d.id AND v.status = 'published') AS versions
       FROM sluice.lake_datasets d ORDER BY d.id`,
  );
  return rows;
}

const versionColumns = `dataset, version, status, mode, based_on, run_ids, rows::text, manifest_key, manifest,
  columns, created_at::text, published_at::text`;

/** The open (staged or ready) version of a dataset, locked for the transaction. */
export async function openVersion(tx: SqlClient, dataset: string): Promise<LakeVersionRow | undefined> {
  const { rows } = await tx.query<LakeVersionRow>(
    `SELECT ${versionColumns} FROM sluice.lake_versions
      WHERE dataset = $1 AND status IN ('staged', 'ready') FOR UPDATE`,
    [dataset],
  );
  return rows[0];
}

export async function createVersion(
  tx: SqlClient,
  v: { dataset: string; version: string; mode: 'full' | 'delta'; runId: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO sluice.lake_versions (dataset, version, status, mode, run_ids)
     VALUES ($1, $2, 'staged', $3, ARRAY[$4])`,
    [v.dataset, v.version, v.mode, v.runId],
  );
}

/** A run continues a staged version (a resumed run, or the run after one that failed). */
export async function joinVersion(tx: SqlClient, dataset: string, version: string, runId: string) {
  await tx.query(
    `UPDATE sluice.lake_versions SET run_ids = array_append(run_ids, $3)
      WHERE dataset = $1 AND version = $2 AND NOT ($3 = ANY (run_ids))`,
    [dataset, version, runId],
  );
}

export async function setVersionColumns(tx: SqlClient, dataset: string, version: string, columns: Column[]) {
  await tx.query(
    `UPDATE sluice.lake_versions SET columns = $3::jsonb WHERE dataset = $1 AND version = $2 AND columns IS NULL`,
    [
      dataset,
      version,
      JSON.stringify(columns.map((c) => ({ name: c.name, ...(c.type ? { type: c.type } : {}) }))),
    ],
  );
}

export async function deleteVersion(tx: SqlClient, dataset: string, version: string): Promise<void> {
  await tx.query(`DELETE FROM sluice.lake_versions WHERE dataset = $1 AND version = $2`, [dataset, version]);
}

export async function markReady(
  tx: SqlClient,
  v: {
    dataset: string;
    version: string;
    basedOn: string | null;
    rows: number;
    manifestKey: string;
    manifest: unknown;
  },
): Promise<void> {
  await tx.query(
    `UPDATE sluice.lake_versions SET status = 'ready', based_on = $3, rows = $4, manifest_key = $5, manifest = $6::jsonb
      WHERE dataset = $1 AND version = $2`,
    [v.dataset, v.version, v.basedOn, v.rows, v.manifestKey, JSON.stringify(v.manifest)],
  );
}

/** Records the pointer flip: the version is published and current. */
export async function markPublished(db: SqlClient, dataset: string, version: string): Promise<void> {
  await db.query(
    `WITH v AS (UPDATE sluice.lake_versions SET status = 'published', published_at = coalesce(published_at, now())
                 WHERE dataset = $1 AND version = $2 RETURNING version)
     UPDATE sluice.lake_datasets SET current_version = (SELECT version FROM v), updated_at = now()
      WHERE id = $1 AND EXISTS (SELECT 1 FROM v)`,
    [dataset, version],
  );
}

export async function setCurrentVersion(db: SqlClient, dataset: string, version: string): Promise<void> {
  await db.query(`UPDATE sluice.lake_datasets SET current_version = $2, updated_at = now() WHERE id = $1`, [
    dataset,
    version,
  ]);
}

export async function markPruned(db: SqlClient, dataset: string, version: string): Promise<void> {
  await db.query(`UPDATE sluice.lake_versions SET status = 'pruned' WHERE dataset = $1 AND version = $2`, [
    dataset,
    version,
  ]);
}

export async function versionsOf(db: SqlClient, dataset: string): Promise<LakeVersionRow[]> {
  const { rows } = await db.query<LakeVersionRow>(
    `SELECT ${versionColumns} FROM sluice.lake_versions WHERE dataset = $1 ORDER BY version DESC`,
    [dataset],
  );
  return rows;
}

export async function versionOf(db: SqlClient, dataset: string, version: string) {
  const { rows } = await db.query<LakeVersionRow>(
    `SELECT ${versionColumns} FROM sluice.lake_versions WHERE dataset = $1 AND version = $2`,
    [dataset, version],
  );
  return rows[0];
}

/** Replaces the files a unit wrote into a version (a retried unit writes them again). */
export async function replaceUnitFiles(
  tx: SqlClient,
  dataset: string,
  version: string,
  unitKey: string,
  files: Omit<LakeFileRow, 'unit_key'>[],
): Promise<void> {
  await tx.query(`DELETE FROM sluice.lake_files WHERE dataset = $1 AND version = $2 AND unit_key = $3`, [
    dataset,
    version,
    unitKey,
  ]);
  if (files.length === 0) return;
  // One statement for all of a unit's files: a unit may write hundreds of partitions.
  await tx.query(
    `INSERT INTO sluice.lake_files (dataset, version, key, partition, unit_key, rows, bytes, sha256, series, min_time, max_time)
     SELECT $1, $2, f.key, f.partition, $3, f.rows, f.bytes, f.sha256,
            ARRAY(SELECT jsonb_array_elements_text(f.series)), f.min_time, f.max_time
       FROM jsonb_to_recordset($4::jsonb)
            AS f(key text, partition text, rows bigint, bytes bigint, sha256 text, series jsonb,
                 min_time timestamptz, max_time timestamptz)
      ORDER BY f.key
     ON CONFLICT (dataset, version, key) DO UPDATE SET partition = EXCLUDED.partition, unit_key = EXCLUDED.unit_key,
       rows = EXCLUDED.rows, bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256, series = EXCLUDED.series,
       min_time = EXCLUDED.min_time, max_time = EXCLUDED.max_time`,
    [dataset, version, unitKey, JSON.stringify(files)],
  );
}

/** The version's files in the order they were written. */
export async function filesOf(db: SqlClient, dataset: string, version: string): Promise<LakeFileRow[]> {
  const { rows } = await db.query<LakeFileRow>(
    `SELECT key, partition, unit_key, rows::text, bytes::text, sha256, series,
            min_time::text, max_time::text
       FROM sluice.lake_files WHERE dataset = $1 AND version = $2 ORDER BY written_seq`,
    [dataset, version],
  );
  return rows;
}

export async function deleteVersionFiles(tx: SqlClient, dataset: string, version: string): Promise<void> {
  await tx.query(`DELETE FROM sluice.lake_files WHERE dataset = $1 AND version = $2`, [dataset, version]);
}
