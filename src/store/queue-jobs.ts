import type { SqlClient } from '../core/sql.js';

// graphile-worker's tables, read and written by SQL in Sluice's own transactions (its schema lives in the
// same database): a tick's claim and its job commit together.

/** The task every Sluice job runs under. */
export const SLUICE_TASK = 'sluice_job';

/** Adds a job through graphile-worker's own `add_job` (in `client`'s transaction, when it is one). */
export async function addGraphileJob(
  client: SqlClient,
  job: {
    payload: unknown;
    runAt?: Date;
    maxAttempts: number;
    jobKey?: string;
    keyMode?: 'replace' | 'preserve_run_at';
  },
): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id::text AS id FROM graphile_worker.add_job($1, $2::json, run_at => $3::timestamptz,
            max_attempts => $4::int, job_key => $5::text, job_key_mode => $6::text)`,
    [
      SLUICE_TASK,
      JSON.stringify(job.payload),
      job.runAt?.toISOString() ?? null,
      job.maxAttempts,
      job.jobKey ?? null,
      job.keyMode ?? 'replace',
    ],
  );
  return rows[0]!.id;
}

/** Sluice's jobs in graphile-worker's queue: due and waiting, locked (running), waiting for a later time. */
export async function graphileQueueStats(
  client: SqlClient,
): Promise<{ waiting: number; running: number; later: number; oldestWaitSeconds: number }> {
  const { rows } = await client.query<{ waiting: number; running: number; later: number; oldest: number }>(
    `SELECT count(*) FILTER (WHERE j.locked_at IS NULL AND j.run_at <= now())::float8 AS waiting,
            count(*) FILTER (WHERE j.locked_at IS NOT NULL)::float8 AS running,
            count(*) FILTER (WHERE j.locked_at IS NULL AND j.run_at > now())::float8 AS later,
            coalesce(extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.locked_at IS NULL AND j.run_at <= now())), 0)::float8 AS oldest
       FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
      WHERE t.identifier = $1 AND j.attempts < j.max_attempts`,
    [SLUICE_TASK],
  );
  const r = rows[0]!;
  return { waiting: r.waiting, running: r.running, later: r.later, oldestWaitSeconds: r.oldest };
}
