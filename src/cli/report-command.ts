import type { Command } from 'commander';
import type { Logger } from '../core/plugin.js';
import { listReports, readReportsFile, saveReports, sendReport } from '../notify/reports.js';
import { EXIT, withStore } from './shared.js';

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
        `loaded ${reports.length} ${reports.length === 1 ? 'report' : 'reports'}: ${reports.map((r) => r.spec.name).join(', ')}\n`,
      );
    });

  report
    .command('list')
    .description('List the saved reports')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }) => {
      const reports = await withStore((db) => listReports(db));
      if (flags.json) {
        process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
        return;
      }
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
      const result = await withStore((db) =>
        sendReport(db, name, { logger, dryRun: flags.dryRun ?? false, outDir: flags.out }),
      );
      const rows = Object.entries(result.rowsPerQuery)
        .map(([k, n]) => `${k} ${n === null ? 'failed' : n}`)
        .join(', ');
      const what =
        result.status === 'dry_run'
          ? `written to ${result.emlPath}`
          : result.status === 'sent'
            ? 'sent'
            : 'NOT sent';
      process.stdout.write(`report ${name} ${what} (rows: ${rows || 'none'})\n`);
      if (result.error) process.stdout.write(`  ${result.error.replaceAll('\n', '\n  ')}\n`);
      if (result.status === 'failed') exit(EXIT.failed);
    });
}
