import { Cron } from 'croner';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import type { Database } from '../store/database.js';
import { listScheduledReports } from '../store/reports.js';
import { sendReport, type ReportSendResult, type SendReportOptions } from './reports.js';

/** An active report with a schedule, and the tick it is due for or waits for. */
export interface ReportSchedule {
  name: string;
  schedule: string;
  timezone: string | null;
  /** Its last recorded send (sent or failed), or when it was loaded when it was never sent. */
  since: string;
  /** Whether a tick has come since `since`. */
  due: boolean;
  /**
   * The first tick after `since`: the one it is due for when `due`, else its next one; null when its
   * schedule never ticks again.
   */
  tick: string | null;
}

/** An active report whose schedule has a tick it has not been sent for yet. */
export interface DueReport {
  name: string;
  schedule: string;
  timezone: string | null;
  since: string;
  /** The first tick after `since`: the one it is due for. */
  tick: string;
}

/**
 * Every active report with a schedule, and whether it is due: its schedule has ticked since its last
 * recorded send (a send that failed counts: sendReport already retried it, and the next tick tries again),
 * or since it was loaded when never sent. Ticks missed while nothing ran make the report due once, not
 * once per tick. The schedule is read in the report's `timezone` (croner), the local time zone when it
 * has none.
 */
export async function reportSchedules(db: Database, now: Date = new Date()): Promise<ReportSchedule[]> {
  return (await listScheduledReports(db)).map((r) => {
    const cron = new Cron(r.schedule, { paused: true, ...(r.timezone ? { timezone: r.timezone } : {}) });
    const tick = cron.nextRun(r.since);
    return {
      name: r.name,
      schedule: r.schedule,
      timezone: r.timezone,
      since: r.since.toISOString(),
      due: tick !== null && tick.getTime() <= now.getTime(),
      tick: tick?.toISOString() ?? null,
    };
  });
}

/** The reports of {@link reportSchedules} that are due. */
export async function dueReports(db: Database, now: Date = new Date()): Promise<DueReport[]> {
  return dueOf(await reportSchedules(db, now));
}

/** The due ones among schedules. */
export function dueOf(schedules: readonly ReportSchedule[]): DueReport[] {
  return schedules.flatMap(({ due, tick, ...r }) => (due && tick !== null ? [{ ...r, tick }] : []));
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
