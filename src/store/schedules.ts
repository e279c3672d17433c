import type { SqlClient } from '../core/sql.js';

/** A row of `sluice.schedules`, as the service reads and writes it. */
export interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  kind: string;
  target: string | null;
  options: Record<string, unknown>;
  enabled: boolean;
  catchUp: 'skip' | 'once';
  createdAt: string;
  updatedAt: string;
  /** The latest tick claimed (fired or skipped), if any. */
  lastFireAt: string | null;
}

export type NewSchedule = Omit<ScheduleRow, 'createdAt' | 'updatedAt' | 'lastFireAt'>;

const SELECT = `SELECT s.name, s.cron, s.timezone, s.kind, s.target, s.options, s.enabled, s.catch_up AS "catchUp",
       s.created_at::text AS "createdAt", s.updated_at::text AS "updatedAt",
       (SELECT max(t.fire_at) FROM sluice.schedule_ticks t WHERE t.schedule = s.name)::text AS "lastFireAt"
  FROM sluice.schedules s`;

/** Every schedule, by name (or only the enabled ones). */
export async function listSchedules(
  db: SqlClient,
  options: { enabledOnly?: boolean } = {},
): Promise<ScheduleRow[]> {
  const { rows } = await db.query<ScheduleRow>(
    `${SELECT} ${options.enabledOnly ? 'WHERE s.enabled' : ''} ORDER BY s.name`,
  );
  return rows;
}

/** One schedule, or undefined. */
export async function getSchedule(db: SqlClient, name: string): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query<ScheduleRow>(`${SELECT} WHERE s.name = $1`, [name]);
  return rows[0];
}

/** Inserts a schedule; false when one of that name exists (and `replace` is not set). */
export async function saveSchedule(db: SqlClient, s: NewSchedule, replace = false): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO sluice.schedules (name, cron, timezone, kind, target, options, enabled, catch_up)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
     ON CONFLICT (name) DO ${
       replace
         ? `UPDATE SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, kind = EXCLUDED.kind,
              target = EXCLUDED.target, options = EXCLUDED.options, enabled = EXCLUDED.enabled,
              catch_up = EXCLUDED.catch_up, updated_at = now()`
         : 'NOTHING'
     }`,
    [s.name, s.cron, s.timezone, s.kind, s.target, JSON.stringify(s.options), s.enabled, s.catchUp],
  );
  return rowCount > 0;
}

/** Replaces a schedule's definition (same name); false when there is none. */
export async function updateSchedule(db: SqlClient, s: NewSchedule): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE sluice.schedules SET cron = $2, timezone = $3, kind = $4, target = $5, options = $6::jsonb,
            enabled = $7, catch_up = $8, updated_at = now()
      WHERE name = $1`,
    [s.name, s.cron, s.timezone, s.kind, s.target, JSON.stringify(s.options), s.enabled, s.catchUp],
  );
  return rowCount > 0;
}

/** Switches a schedule on or off; false when there is none. */
export async function setScheduleEnabled(db: SqlClient, name: string, enabled: boolean): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE sluice.schedules SET enabled = $2, updated_at = now() WHERE name = $1',
    [name, enabled],
  );
  return rowCount > 0;
}

/** Deletes a schedule (and its ticks); false when there is none. */
export async function deleteSchedule(db: SqlClient, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM sluice.schedules WHERE name = $1', [name]);
  return rowCount > 0;
}

/**
 * Claims one tick of a schedule: its (schedule, fire time) row. True for the one process whose insert
 * made the row, false for every other: however many schedulers run, a tick is claimed once.
 */
export async function claimTick(
  db: SqlClient,
  tick: { schedule: string; fireAt: Date; claimedBy: string; outcome: 'queued' | 'skipped' },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO sluice.schedule_ticks (schedule, fire_at, claimed_by, outcome) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING`,
    [tick.schedule, tick.fireAt.toISOString(), tick.claimedBy, tick.outcome],
  );
  return rowCount > 0;
}

/** Records the job a claimed tick queued. */
export async function setTickJob(
  db: SqlClient,
  schedule: string,
  fireAt: Date,
  jobId: string,
): Promise<void> {
  await db.query('UPDATE sluice.schedule_ticks SET job_id = $3 WHERE schedule = $1 AND fire_at = $2', [
    schedule,
    fireAt.toISOString(),
    jobId,
  ]);
}

export interface TickRow {
  schedule: string;
  fireAt: string;
  claimedAt: string;
  claimedBy: string;
  outcome: string;
  jobId: string | null;
  /** Seconds from the fire time to the claim: the scheduler's lag. */
  lagSeconds: number;
}

/** The latest ticks (of one schedule, or all), newest first. */
export async function listTicks(
  db: SqlClient,
  options: { schedule?: string; limit?: number } = {},
): Promise<TickRow[]> {
  const { rows } = await db.query<TickRow>(
    `SELECT schedule, fire_at::text AS "fireAt", claimed_at::text AS "claimedAt", claimed_by AS "claimedBy", outcome,
            job_id AS "jobId", extract(epoch FROM claimed_at - fire_at)::float8 AS "lagSeconds"
       FROM sluice.schedule_ticks WHERE $1::text IS NULL OR schedule = $1
      ORDER BY fire_at DESC, schedule LIMIT $2`,
    [options.schedule ?? null, options.limit ?? 100],
  );
  return rows;
}
