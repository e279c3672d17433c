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

/**
 * Every reject of one run, a page at a time in the order they were written (file by file, line by line):
 * keyset paging on the id, so memory stays at one page whatever the run rejected.
 */
export async function* readRejectPages(
  db: SqlClient,
  runId: string,
  pageSize = 1000,
): AsyncGenerator<(RejectRow & { id: string })[]> {
  let after = '0';
  for (;;) {
    const { rows } = await db.query<RejectRow & { id: string }>(
      // r.id: a bare `id` in ORDER BY would name the text output column and sort 10 before 9.
      `SELECT r.id::text AS id, run_id, file, line, column_name, rule, value, message, raw FROM sluice.rejects r
        WHERE run_id = $1 AND r.id > $2::bigint ORDER BY r.id LIMIT $3`,
      [runId, after, pageSize],
    );
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.id;
  }
}

/** The one reject of a file rejected whole (its layout, its columns): rule `layout`, the reason as message. */
export async function recordFileReject(
  tx: SqlClient,
  r: { runId: string; pipeline: string; fileId: string; file: string; line: number | null; reason: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO sluice.rejects (run_id, pipeline, file_id, file, line, rule, message) VALUES ($1, $2, $3, $4, $5, 'layout', $6)`,
    [r.runId, r.pipeline, r.fileId, r.file, r.line, r.reason.replaceAll('\u0000', '')],
  );
}
