import type { SqlClient } from '../core/sql.js';

/** Marks a claimed run as a task's (`command`, `maintenance`, `backup`) rather than a pipeline's. */
export async function setRunKind(db: SqlClient, runId: string, kind: string): Promise<void> {
  await db.query('UPDATE sluice.runs SET kind = $2 WHERE id = $1', [runId, kind]);
}
