import type { SqlClient } from '../core/sql.js';

/**
 * Sets what SQL steps can read through `sluice.run_id()`, `sluice.as_of()`, `sluice.file_name()` and
 * `sluice.file_id()`, for the rest of the transaction `tx`.
 */
export async function setLoadContext(
  tx: SqlClient,
  c: { runId: string; asOf: string; fileName?: string; fileId?: string | null },
): Promise<void> {
  await tx.query(
    `SELECT set_config('sluice.run_id', $1, true), set_config('sluice.as_of', $2, true),
            set_config('sluice.file_name', $3, true), set_config('sluice.file_id', $4, true)`,
    [c.runId, c.asOf, c.fileName ?? '', c.fileId ?? ''],
  );
}
