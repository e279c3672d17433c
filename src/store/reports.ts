import type { SqlClient } from '../core/sql.js';
import type { Database } from './database.js';

/** A row of `sluice.reports`. */
export interface ReportRow {
  name: string;
  definition: Record<string, unknown>;
  schedule: string | null;
  active: boolean;
  updated_at: string;
}

/** Who a send went to. */
export interface ReportRecipients {
  to: string[];
  cc: string[];
  bcc: string[];
}

export type ReportSendStatus = 'sent' | 'failed' | 'dry_run';

/** A row of `sluice.report_sends`. */
export interface ReportSendRow {
  id: string;
  report: string;
  sent_at: string;
  recipients: ReportRecipients;
  rows_per_query: Record<string, number | null>;
  status: ReportSendStatus;
  error: string | null;
  eml_path: string | null;
}

/** Inserts a report or replaces the one of the same name. */
export async function saveReport(
  db: SqlClient,
  r: { name: string; definition: Record<string, unknown>; schedule: string | null; active: boolean },
): Promise<void> {
  await db.query(
    `INSERT INTO sluice.reports (name, definition, schedule, active, updated_at)
     VALUES ($1, $2::jsonb, $3, $4, now())
     ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, schedule = EXCLUDED.schedule,
       active = EXCLUDED.active, updated_at = now()`,
    [r.name, JSON.stringify(r.definition), r.schedule, r.active],
  );
}

/** Every report, by name. */
export async function listReports(db: SqlClient): Promise<ReportRow[]> {
  const { rows } = await db.query<ReportRow>(
    'SELECT name, definition, schedule, active, updated_at::text AS updated_at FROM sluice.reports ORDER BY name',
  );
  return rows;
}

/** The definition of a report as stored (environment references kept), or undefined. */
export async function getReportDefinition(db: SqlClient, name: string): Promise<unknown> {
  const { rows } = await db.query<{ definition: unknown }>(
    'SELECT definition FROM sluice.reports WHERE name = $1',
    [name],
  );
  return rows[0]?.definition;
}

/** The sends of a report, latest first. */
export async function listReportSends(db: SqlClient, report: string, limit = 50): Promise<ReportSendRow[]> {
  const { rows } = await db.query<ReportSendRow>(
    `SELECT id::text AS id, report, sent_at::text AS sent_at, recipients, rows_per_query, status, error, eml_path
       FROM sluice.report_sends s WHERE report = $1 ORDER BY s.sent_at DESC, s.id DESC LIMIT $2`,
    [report, limit],
  );
  return rows;
}

/** Records one send; returns its id. */
export async function recordReportSend(
  db: SqlClient,
  s: {
    report: string;
    sentAt: Date;
    recipients: ReportRecipients;
    rowsPerQuery: Record<string, number | null>;
    status: ReportSendStatus;
    error: string | null;
    emlPath: string | null;
  },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO sluice.report_sends (report, sent_at, recipients, rows_per_query, status, error, eml_path)
     VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7) RETURNING id::text AS id`,
    [
      s.report,
      s.sentAt.toISOString(),
      JSON.stringify(s.recipients),
      JSON.stringify(s.rowsPerQuery),
      s.status,
      s.error,
      s.emlPath,
    ],
  );
  return rows[0]!.id;
}

/** An active report with a schedule, and the time its schedule is counted from. */
export interface ScheduledReport {
  name: string;
  schedule: string;
  timezone: string | null;
  /** Its last recorded send (sent or failed; dry runs do not count), or when it was loaded. */
  since: Date;
}

/** The active reports that have a schedule, by name. */
export async function listScheduledReports(db: SqlClient): Promise<ScheduledReport[]> {
  const { rows } = await db.query<{
    name: string;
    schedule: string;
    timezone: string | null;
    since: Date | string;
  }>(
    `SELECT r.name, r.schedule, r.definition->>'timezone' AS timezone,
            coalesce((SELECT max(s.sent_at) FROM sluice.report_sends s
                       WHERE s.report = r.name AND s.status IN ('sent', 'failed')), r.updated_at) AS since
       FROM sluice.reports r
      WHERE r.active AND r.schedule IS NOT NULL
      ORDER BY r.name`,
  );
  return rows.map((r) => ({
    name: r.name,
    schedule: r.schedule,
    timezone: r.timezone,
    since: new Date(r.since),
  }));
}

/**
 * Runs one report query in a read-only transaction with a statement timeout, returning at most `maxRows`
 * rows. The query is wrapped as a subquery with a bound row limit: that keeps it to one statement (the
 * extended protocol refuses more), so it cannot end the read-only transaction.
 */
export async function runReportQuery(
  db: Database,
  sql: string,
  o: { maxRows: number; timeoutMs: number },
): Promise<Record<string, unknown>[]> {
  const timeoutMs = Math.max(1, Math.trunc(o.timeoutMs));
  const body = sql.trim().replace(/;\s*$/, '');
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION READ ONLY');
    // set_config(…, true) is SET LOCAL with a parameter (SET itself takes none).
    await tx.query("SELECT set_config('statement_timeout', $1, true)", [String(timeoutMs)]);
    const result = await tx.query(`SELECT * FROM (\n${body}\n) AS report_query LIMIT $1`, [o.maxRows]);
    return result.rows;
  });
}
