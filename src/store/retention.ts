import { quoteIdent, type SqlClient } from '../core/sql.js';

// Retention of the control plane's history: each function deletes one bounded batch of rows older than an
// age (the database's clock decides), so that a large purge is many short statements, never one long lock.
// What dedupe and watermarks depend on is never deleted: ledger entries of loaded files, state, exports,
// a pipeline's (or task's) latest run, and rows that other rows still point at.

/** A column that points at a table's `id` (a foreign key), as `schema.table.column`. */
export interface Reference {
  schema: string;
  table: string;
  column: string;
}

/**
 * Every foreign-key column that points at `sluice.<table>`: the purge of that table keeps the rows they
 * point at, including those of tables added later (by migrations, or by the user).
 */
export async function referencesTo(db: SqlClient, table: 'runs' | 'files' | 'rejects'): Promise<Reference[]> {
  const { rows } = await db.query<Reference>(
    `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
      WHERE k.contype = 'f' AND k.confrelid = to_regclass($1) AND array_length(k.conkey, 1) = 1
      ORDER BY 1, 2, 3`,
    [`sluice.${table}`],
  );
  return rows;
}

/** `AND NOT EXISTS (…)` for each reference to `alias.id`. */
function unreferenced(alias: string, references: readonly Reference[]): string {
  return references
    .map(
      (r) =>
        ` AND NOT EXISTS (SELECT 1 FROM ${quoteIdent(r.schema)}.${quoteIdent(r.table)} x WHERE x.${quoteIdent(r.column)} = ${alias}.id)`,
    )
    .join('');
}

const OLDER = `now() - $1 * interval '1 millisecond'`;

/** Deletes up to `limit` step log entries logged longer than `ageMs` ago; returns how many. */
export async function purgeLogs(db: SqlClient, ageMs: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM sluice.logs WHERE id IN (
       SELECT id FROM sluice.logs WHERE logged_at < ${OLDER} ORDER BY logged_at LIMIT $2)`,
    [ageMs, limit],
  );
  return rowCount;
}

/** Deletes up to `limit` rejects recorded longer than `ageMs` ago (and not pointed at); returns how many. */
export async function purgeRejects(
  db: SqlClient,
  ageMs: number,
  limit: number,
  references: readonly Reference[],
): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM sluice.rejects WHERE id IN (
       SELECT j.id FROM sluice.rejects j WHERE j.rejected_at < ${OLDER}${unreferenced('j', references)}
        ORDER BY j.rejected_at LIMIT $2)`,
    [ageMs, limit],
  );
  return rowCount;
}

/**
 * Deletes up to `limit` ledger entries of rejected and skipped files recorded longer than `ageMs` ago that
 * nothing points at (rejects, datasets, duplicates). Entries of loaded files stay: they keep a file from
 * loading twice.
 */
export async function purgeLedger(
  db: SqlClient,
  ageMs: number,
  limit: number,
  references: readonly Reference[],
): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM sluice.files WHERE id IN (
       SELECT f.id FROM sluice.files f
        WHERE f.status <> 'loaded' AND f.recorded_at < ${OLDER}${unreferenced('f', references)}
        ORDER BY f.recorded_at LIMIT $2)`,
    [ageMs, limit],
  );
  return rowCount;
}

/**
 * Deletes up to `limit` runs that ended longer than `ageMs` ago, except a pipeline's (or task's) latest run,
 * runs a saved state or an export names, and runs other rows point at (their files, rejects, datasets).
 * Running and stopped runs (which resume) are never deleted.
 */
export async function purgeRuns(
  db: SqlClient,
  ageMs: number,
  limit: number,
  references: readonly Reference[],
): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM sluice.runs WHERE id IN (
       SELECT r.id FROM sluice.runs r
        WHERE r.status NOT IN ('running', 'stopped') AND coalesce(r.ended_at, r.started_at) < ${OLDER}
          AND EXISTS (SELECT 1 FROM sluice.runs n WHERE n.pipeline = r.pipeline AND n.started_at > r.started_at)
          AND NOT EXISTS (SELECT 1 FROM sluice.state s WHERE s.run_id = r.id)
          AND NOT EXISTS (SELECT 1 FROM sluice.exports e WHERE e.run_id = r.id)${unreferenced('r', references)}
        ORDER BY r.started_at LIMIT $2)`,
    [ageMs, limit],
  );
  return rowCount;
}
