import type { Command } from 'commander';
import type { Logger } from '../core/plugin.js';
import { dueOf, reportSchedules, sendDueReports, type ReportSchedule } from '../notify/report-schedule.js';
import { readReportsFile, saveReports, sendReport } from '../notify/reports.js';
import { listReports } from '../store/reports.js';
import { EXIT, withStore } from './shared.js';
import { plural } from './format.js';

/** What `report due` says when nothing is due: which reports it looked at, and when each is due next. */
function nothingDue(schedules: readonly ReportSchedule[]): string {
  if (schedules.length === 0)
    return (
      'no report is due: no active report has a schedule\n' +
      'A report runs on its own with `schedule:` (a cron expression) in its file; `sluice report list` shows them.\n'
    );
  const width = Math.max(...schedules.map((s) => s.name.length));
  return [
    `no report is due; looked at ${plural(schedules.length, 'scheduled report')}:`,
    ...schedules.map(
      (s) =>
        `  ${s.name.padEnd(width)}  ${s.schedule}  ${s.tick ? `next ${s.tick}` : 'never ticks again'}${s.timezone ? ` (${s.timezone})` : ''}`,
    ),
    '',
  ].join('\n');
}

/** Progress to stderr; the result goes to stdout. */
const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => process.stderr.write(`warn: ${message}\n`),
  error: (message) => process.stderr.write(`error: ${message}\n`),
};

export function registerReport(program: Command, exit: (code: number) => void) {
  const report = program.command('report').description('Mailed reports: SQL grids and attachments');

  report
    .command('load <file>')
    .description('Validate the reports of a YAML file (`reports:` list) and save them in the database')
    .action(async (file: string) => {
      const reports = await readReportsFile(file, process.env);
      await withStore((db) => saveReports(db, reports));
      process.stdout.write(
        `loaded ${plural(reports.length, 'report')}: ${reports.map((r) => r.spec.name).join(', ')}\n`,
      );
    });

  report
    .command('list')
    .description('List the saved reports')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }) => {
      const reports = await withStore((db) => listReports(db), { existing: true });
      if (flags.json) {
        process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
        return;
      }
      if (reports.length === 0)
        process.stdout.write('no report is loaded; load them with `sluice report load FILE.yaml`\n');
      for (const r of reports) {
        const subject = typeof r.definition.subject === 'string' ? r.definition.subject : '';
        process.stdout.write(
          `${r.name.padEnd(20)} ${(r.active ? 'active' : 'inactive').padEnd(9)} ${(r.schedule ?? '-').padEnd(16)} ${subject}\n`,
        );
      }
    });

  report
    .command('send <name>')
    .description('Run the queries of a report and mail it now')
    .option('--dry-run', 'write the message as an .eml file instead of sending it')
    .option('--out <dir>', 'where --dry-run writes the .eml', '.')
    .action(async (name: string, flags: { dryRun?: boolean; out: string }) => {
      const result = await withStore(
        (db) => sendReport(db, name, { logger, dryRun: flags.dryRun ?? false, outDir: flags.out }),
        { existing: true },
      );
      const rows = Object.entries(result.rowsPerQuery)
        .map(([k, n]) => `${k}: ${n === null ? 'failed' : plural(n, 'row')}`)
        .join(', ');
      const what =
        result.status === 'dry_run'
          ? `written to ${result.emlPath}`
          : result.status === 'sent'
            ? 'sent'
            : 'NOT sent';
      process.stdout.write(`report ${name} ${what} (${rows || 'no queries'})\n`);
      if (result.error) process.stdout.write(`  ${result.error.replaceAll('\n', '\n  ')}\n`);
      if (result.status === 'failed') exit(EXIT.failed);
    });

  report
    .command('due')
    .description(
      'List the active reports whose cron schedule has ticked since their last send; with --send, send ' +
        'them (a crontab line `* * * * * sluice report due --send` runs the schedules)',
    )
    .option('--send', 'send the due reports, each recorded as `report send` records it')
    .option('--json', 'as JSON')
    .action(async (flags: { send?: boolean; json?: boolean }) => {
      if (!flags.send) {
        const schedules = await withStore((db) => reportSchedules(db), { existing: true });
        const due = dueOf(schedules);
        if (flags.json) {
          process.stdout.write(JSON.stringify(due, null, 2) + '\n');
          return;
        }
        if (due.length === 0) process.stdout.write(nothingDue(schedules));
        for (const d of due)
          process.stdout.write(
            `${d.name.padEnd(20)} ${d.schedule.padEnd(16)} due since ${d.tick}${d.timezone ? ` (${d.timezone})` : ''}\n`,
          );
        return;
      }
      const { sends, schedules } = await withStore(
        async (db) => ({
          sends: await sendDueReports(db, { logger }),
          schedules: await reportSchedules(db),
        }),
        { existing: true },
      );
      if (sends === undefined) {
        process.stderr.write('another `sluice report due --send` is running: nothing sent\n');
        return;
      }
      if (sends.length === 0 && !flags.json) process.stdout.write(nothingDue(schedules));
      if (flags.json) process.stdout.write(JSON.stringify(sends, null, 2) + '\n');
      let failed = false;
      for (const s of sends) {
        const status = 'result' in s ? s.result.status : 'failed';
        if (status === 'failed') failed = true;
        if (!flags.json)
          process.stdout.write(
            `report ${s.name} (due ${s.tick}) ${status === 'sent' ? 'sent' : 'NOT sent'}${'error' in s ? `: ${s.error}` : s.result.error ? `: ${s.result.error.replaceAll('\n', '; ')}` : ''}\n`,
          );
      }
      if (failed) exit(EXIT.failed);
    });
}
