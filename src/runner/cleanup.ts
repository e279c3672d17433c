import os from 'node:os';
import type { Database } from '../store/database.js';
import { isProcessAlive } from '../store/process-alive.js';
import { findStaleRuns, reapRun, type StaleRun } from '../store/runs.js';

/** A run's maximum run time when its pipeline gives none (runs are reaped after 30 minutes of silence). */
export const DEFAULT_MAX_RUN_MS = 30 * 60_000;

export interface CleanupResult {
  reaped: StaleRun[];
  /** Silent runs left alone because their process, on this host, is still there (a stalled heartbeat). */
  alive: StaleRun[];
}

/**
 * Marks runs whose heartbeat stopped for longer than their maximum run time as failed and releases their
 * claims, so that the next run starts afresh instead of resuming them. A run whose process still exists
 * on this host is left alone; one that beats again meanwhile is not reaped.
 */
export async function cleanupStaleRuns(
  db: Database,
  options: { defaultMaxRunMs?: number } = {},
): Promise<CleanupResult> {
  const result: CleanupResult = { reaped: [], alive: [] };
  const host = os.hostname();
  for (const run of await findStaleRuns(db, options.defaultMaxRunMs ?? DEFAULT_MAX_RUN_MS)) {
    if (run.host === host && run.pid !== null && isProcessAlive(run.pid)) {
      result.alive.push(run);
      continue;
    }
    if (await reapRun(db, run)) result.reaped.push(run);
    else result.alive.push(run);
  }
  return result;
}
