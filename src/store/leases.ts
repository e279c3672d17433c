import os from 'node:os';
import type { SqlClient } from '../core/sql.js';

export interface Lease {
  pipeline: string;
  runId: string;
  host: string;
  pid: number;
  acquiredAt: string;
  heartbeatAt: string;
}

/**
 * Takes the pipeline's lease for a run. Call it holding the pipeline's advisory lock: a lease still there
 * belongs to a process whose session is gone, so it is taken over; the previous holder is returned.
 */
export async function takeLease(db: SqlClient, pipeline: string, runId: string): Promise<Lease | undefined> {
  const { rows } = await db.query<LeaseRow>('SELECT * FROM sluice.leases WHERE pipeline = $1', [pipeline]);
  await db.query(
    `INSERT INTO sluice.leases (pipeline, run_id, host, pid) VALUES ($1, $2, $3, $4)
     ON CONFLICT (pipeline) DO UPDATE SET run_id = EXCLUDED.run_id, host = EXCLUDED.host, pid = EXCLUDED.pid,
       acquired_at = now(), heartbeat_at = now()`,
    [pipeline, runId, os.hostname(), process.pid],
  );
  const previous = rows[0];
  return previous && previous.run_id !== runId ? toLease(previous) : undefined;
}

export async function renewLease(db: SqlClient, pipeline: string, runId: string): Promise<void> {
  await db.query('UPDATE sluice.leases SET heartbeat_at = now() WHERE pipeline = $1 AND run_id = $2', [
    pipeline,
    runId,
  ]);
}

export async function releaseLease(db: SqlClient, pipeline: string, runId: string): Promise<void> {
  await db.query('DELETE FROM sluice.leases WHERE pipeline = $1 AND run_id = $2', [pipeline, runId]);
}

export async function listLeases(db: SqlClient): Promise<Lease[]> {
  const { rows } = await db.query<LeaseRow>('SELECT * FROM sluice.leases ORDER BY pipeline');
  return rows.map(toLease);
}

interface LeaseRow {
  pipeline: string;
  run_id: string;
  host: string;
  pid: number;
  acquired_at: Date | string;
  heartbeat_at: Date | string;
}

function toLease(r: LeaseRow): Lease {
  return {
    pipeline: r.pipeline,
    runId: r.run_id,
    host: r.host,
    pid: r.pid,
    acquiredAt: new Date(r.acquired_at).toISOString(),
    heartbeatAt: new Date(r.heartbeat_at).toISOString(),
  };
}
