import type { SqlClient } from '../core/sql.js';

export interface RejectRow {
  run_id: string;
  file: string;
  line: number | null;
  column_name: string | null;
  rule: string;
  value: string | null;
  message: string;
  raw: string | null;
}

/** The rejects of a run (by default the pipeline's latest run that has any), in file and line order. */
export async function listRejects(
  db: SqlClient,
  options: { runId?: string; pipeline?: string; limit?: number },
): Promise<RejectRow[]> {
  const { rows } = await db.query<RejectRow>(
    `SELECT run_id, file, line, column_name, rule, value, message, raw FROM sluice.rejects
      WHERE run_id = coalesce($1::uuid, (SELECT run_id FROM sluice.rejects
                                          WHERE $2::text IS NULL OR pipeline = $2 ORDER BY id DESC LIMIT 1))
      ORDER BY file, line NULLS FIRST, id
      LIMIT $3`,
    [options.runId ?? null, options.pipeline ?? null, options.limit ?? 100],
  );
  return rows;
}
