import type { SqlClient } from '../core/sql.js';
import type { StateReader } from '../core/plugin.js';

/** One saved state entry of a pipeline (a watermark, an ETag). */
export interface StateEntry {
  pipeline: string;
  key: string;
  value: unknown;
  runId: string | null;
  updatedAt: string;
}

export async function getState<T = unknown>(
  db: SqlClient,
  pipeline: string,
  key: string,
): Promise<T | undefined> {
  const { rows } = await db.query<{ value: T }>(
    'SELECT value FROM sluice.state WHERE pipeline = $1 AND key = $2',
    [pipeline, key],
  );
  return rows[0]?.value;
}

/**
 * Saves entries through `tx`, the transaction of the load they describe: a load that rolls back leaves the
 * state where it was.
 */
export async function saveState(
  tx: SqlClient,
  pipeline: string,
  runId: string,
  entries: Record<string, unknown>,
): Promise<void> {
  for (const [key, value] of Object.entries(entries)) {
    await tx.query(
      `INSERT INTO sluice.state (pipeline, key, value, run_id, updated_at) VALUES ($1, $2, $3::jsonb, $4, now())
       ON CONFLICT (pipeline, key) DO UPDATE SET value = EXCLUDED.value, run_id = EXCLUDED.run_id, updated_at = now()`,
      [pipeline, key, JSON.stringify(value), runId],
    );
  }
}

export async function listState(db: SqlClient, pipeline?: string): Promise<StateEntry[]> {
  const { rows } = await db.query<{
    pipeline: string;
    key: string;
    value: unknown;
    run_id: string | null;
    updated_at: Date | string;
  }>(
    `SELECT pipeline, key, value, run_id, updated_at FROM sluice.state
      WHERE $1::text IS NULL OR pipeline = $1 ORDER BY pipeline, key`,
    [pipeline ?? null],
  );
  return rows.map((r) => ({
    pipeline: r.pipeline,
    key: r.key,
    value: r.value,
    runId: r.run_id,
    updatedAt: new Date(r.updated_at).toISOString(),
  }));
}

/** Forgets a pipeline's state (all of it, or the keys given); returns how many entries went. */
export async function resetState(db: SqlClient, pipeline: string, keys?: string[]): Promise<number> {
  const result = keys?.length
    ? await db.query('DELETE FROM sluice.state WHERE pipeline = $1 AND key = ANY($2::text[])', [
        pipeline,
        keys,
      ])
    : await db.query('DELETE FROM sluice.state WHERE pipeline = $1', [pipeline]);
  return result.rowCount;
}

/**
 * A run's view of its pipeline's state: read once when the run starts (plugins then never wait on the
 * database, which on the embedded one would wait for the run's own open transaction), and updated with
 * what the run commits. The run's claim keeps other processes from changing it meanwhile.
 */
export class StateSnapshot implements StateReader {
  private constructor(private readonly entries: Map<string, unknown>) {}

  static async read(db: SqlClient, pipeline: string): Promise<StateSnapshot> {
    const { rows } = await db.query<{ key: string; value: unknown }>(
      'SELECT key, value FROM sluice.state WHERE pipeline = $1',
      [pipeline],
    );
    return new StateSnapshot(new Map(rows.map((r) => [r.key, r.value])));
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return structuredClone(this.entries.get(key)) as T | undefined;
  }

  /** Entries whose transaction committed. */
  committed(entries: Record<string, unknown> | undefined): void {
    for (const [key, value] of Object.entries(entries ?? {})) this.entries.set(key, structuredClone(value));
  }
}
