import type { Database } from '../store/database.js';
import { listLeases } from '../store/leases.js';
import { findStaleRuns, reapRun, type StaleRun } from '../store/runs.js';

/** A run's maximum run time when its pipeline gives none (seed 004 reaps after 30 minutes). */
export const DEFAULT_MAX_RUN_MS = 30 * 60_000;

export interface CleanupResult {
  reaped: StaleRun[];
  /** Stale runs left alone because their pipeline's lock is still held: their process is alive. */
  alive: StaleRun[];
  /** Leases dropped because no run of theirs was running any more. */
  orphanLeases: string[];
}

/**
 * Marks runs whose heartbeat stopped for longer than their maximum run time as failed and drops their
 * leases. A run whose pipeline lock is still held belongs to a live process (a stalled heartbeat, not a
 * dead one) and is left alone.
 */
export async function cleanupStaleRuns(
  db: Database,
  options: { defaultMaxRunMs?: number } = {},
): Promise<CleanupResult> {
  const result: CleanupResult = { reaped: [], alive: [], orphanLeases: [] };
  for (const run of await findStaleRuns(db, options.defaultMaxRunMs ?? DEFAULT_MAX_RUN_MS)) {
    const lock = await db.tryLock(`sluice:pipeline:${run.pipeline}`);
    if (!lock) {
      result.alive.push(run);
      continue;
    }
    try {
      await db.transaction((tx) => reapRun(tx, run));
      result.reaped.push(run);
    } finally {
      await lock.release();
    }
  }
  for (const lease of await listLeases(db)) {
    const { rows } = await db.query(`SELECT 1 FROM sluice.runs WHERE id = $1 AND status = 'running'`, [
      lease.runId,
    ]);
    if (rows.length > 0) continue;
    const lock = await db.tryLock(`sluice:pipeline:${lease.pipeline}`);
    if (!lock) continue;
    try {
      await db.query('DELETE FROM sluice.leases WHERE pipeline = $1 AND run_id = $2', [
        lease.pipeline,
        lease.runId,
      ]);
      result.orphanLeases.push(lease.pipeline);
    } finally {
      await lock.release();
    }
  }
  return result;
}
