import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { SqlClient } from '../../src/core/sql.js';

/**
 * Makes a pipeline look busy: a running run claimed by this (live) process, as another run of it would
 * hold it. `release` ends that run.
 */
export async function holdPipeline(db: SqlClient, pipeline: string): Promise<{ release(): Promise<void> }> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO sluice.runs (id, pipeline, status, as_of, host, pid, locked_by, locked_at)
     VALUES ($1, $2, 'running', current_date, $3, $4, $5, now())`,
    [id, pipeline, os.hostname(), process.pid, `test:${id}`],
  );
  return {
    async release() {
      await db.query(
        `UPDATE sluice.runs SET status = 'succeeded', ended_at = now(), locked_by = NULL WHERE id = $1`,
        [id],
      );
    },
  };
}
