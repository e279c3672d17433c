import { Cron } from 'croner';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import type { Database } from '../store/database.js';
import { sendReport, type ReportSendResult, type SendReportOptions } from './reports.js';

/** An active report whose schedule has a tick it has not been sent for yet. */
export interface DueReport {
  name: string;
  schedule: string;
  timezone: string | null;
  /** Its last recorded send (sent or failed), or when it was loaded when it was never sent. */
  since: string;
  /** The first tick after `since`: the one it is due for. */
  tick: string;
}

/**
 * The active reports with a schedule that has ticked since their last recorded send (a send that failed
 * counts: sendReport already retried it, and the next tick tries again), or since they were loaded when
 * never sent. Ticks missed while nothing ran make the report due once, not once per tick. The schedule is
 * read in the report's `timezone` (croner), the local time zone when it has none.
 */
export async function dueReports(db: Database, now: Date = new Date()): Promise<DueReport[]> {
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
  const due: DueReport[] = [];
  for (const r of rows) {
    const since = new Date(r.since);
    const cron = new Cron(r.schedule, { paused: true, ...(r.timezone ? { timezone: r.timezone } : {}) });
    const tick = cron.nextRun(since);
    if (tick && tick.getTime() <= now.getTime())
      due.push({
        name: r.name,
        schedule: r.schedule,
        timezone: r.timezone,
        since: since.toISOString(),
        tick: tick.toISOString(),
      });
  }
  return due;
}

export type DueSend = DueReport & ({ result: ReportSendResult } | { error: string });

/**
 * Sends every due report, each recorded in `sluice.report_sends` as `sluice report send` records it. Runs
 * under a lock, so overlapping invocations (a crontab line every minute) never send a report twice; returns
 * undefined when another invocation holds it.
 */
export async function sendDueReports(
  db: Database,
  options: Omit<SendReportOptions, 'dryRun' | 'outDir'> & { logger: Logger },
): Promise<DueSend[] | undefined> {
  const lock = await db.tryLock('sluice:report-due');
  if (!lock) return undefined;
  try {
    const now = options.now ?? new Date();
    const sends: DueSend[] = [];
    for (const report of await dueReports(db, now)) {
      try {
        sends.push({ ...report, result: await sendReport(db, report.name, { ...options, now }) });
      } catch (error) {
        // An invalid stored report or a missing variable: said, and the others still go out.
        options.logger.error(`report ${report.name} was not sent: ${errorMessage(error)}`);
        sends.push({ ...report, error: errorMessage(error) });
      }
    }
    return sends;
  } finally {
    await lock.release();
  }
}
