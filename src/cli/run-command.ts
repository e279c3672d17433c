import type { Command } from 'commander';
import { isIsoDate } from '../core/dates.js';
import { SluiceError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import { sendRunNotices } from '../notify/send-notices.js';
import { createRegistry } from '../plugins/index.js';
import { runPipeline, type RunSummary } from '../runner/run-pipeline.js';
import { createProgressView } from './progress-view.js';
import { EXIT, formatCount, readPipeline, withStore } from './shared.js';

interface RunFlags {
  asOf?: string;
  dryRun?: boolean;
  verbose?: boolean;
  json?: boolean;
}

export function registerRun(program: Command, exit: (code: number) => void) {
  program
    .command('run')
    .description('Run a pipeline once')
    .argument('<pipeline>', 'pipeline file (YAML)')
    .option('--as-of <date>', 'the run date, YYYY-MM-DD (default: today)')
    .option('--dry-run', 'do everything in a transaction that is rolled back; touch no file')
    .option('--verbose', 'print every step')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, flags: RunFlags) => {
      if (flags.asOf && !isIsoDate(flags.asOf)) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `--as-of must be a date as YYYY-MM-DD, found "${flags.asOf}"`,
        );
      }
      const registry = createRegistry();
      const spec = await readPipeline(file, registry);
      const summary = await withStore(async (db, home) => {
        const view = createProgressView({
          enabled: !flags.json && !flags.verbose && process.stderr.isTTY === true,
        });
        const controller = new AbortController();
        const stop = () => controller.abort(new Error('interrupted'));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        let summary: RunSummary;
        try {
          summary = await runPipeline({
            db,
            spec,
            registry,
            home,
            ...(flags.asOf ? { asOf: flags.asOf } : {}),
            dryRun: flags.dryRun ?? false,
            verbose: flags.verbose ?? false,
            signal: controller.signal,
            onProgress: view.update,
            onLog: (entry) => {
              if (flags.verbose)
                process.stderr.write(
                  `${entry.loggedAt} ${entry.level.padEnd(5)} #${entry.step} +${entry.stepMs}ms ${entry.message}\n`,
                );
              else if (entry.level === 'warn' || entry.level === 'error')
                view.note(`${entry.level}: ${entry.message}`);
            },
          });
        } finally {
          view.stop();
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
        // Also after a failed run; a notice that cannot be sent is logged, never fails the run.
        if (spec.notify) await sendRunNotices(db, spec, summary, { logger: stderrLogger });
        return summary;
      });
      if (flags.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else process.stdout.write(formatSummary(summary));
      exit(summary.status === 'succeeded' ? EXIT.ok : EXIT.failed);
    });
}

/** Prints warnings and errors to stderr (for what happens after a run, such as its notices). */
export const stderrLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => process.stderr.write(`warn: ${message}\n`),
  error: (message) => process.stderr.write(`error: ${message}\n`),
};

export function formatSummary(s: RunSummary): string {
  const secs = (s.durationMs / 1000).toFixed(1);
  const lines = [
    `${s.dryRun ? 'Dry run' : 'Run'} ${s.runId} of ${s.pipeline} ${s.status} in ${secs} s (as of ${s.asOf}${s.resumed ? ', resumed' : ''})`,
    `  files: ${s.filesLoaded} loaded, ${s.filesSkipped} skipped, ${s.filesRejected} rejected`,
    `  rows:  ${formatCount(s.rowsRead)} read, ${formatCount(s.rowsLoaded)} loaded, ${formatCount(s.rowsRejected)} rejected`,
  ];
  for (const f of s.files) {
    if (f.status === 'rejected') lines.push(`  rejected ${f.name}: ${f.reason}`);
    else if (f.status === 'skipped') lines.push(`  skipped  ${f.name}: ${f.reason}`);
    else
      lines.push(
        `  loaded   ${f.name}: ${formatCount(f.rowsLoaded)} rows${f.rowsRejected ? `, ${formatCount(f.rowsRejected)} rejected` : ''}`,
      );
  }
  if (s.archive) lines.push(`  archive: ${s.archive}`);
  if (s.dryRun) lines.push('  nothing was committed: this was a dry run');
  else if (s.rowsRejected > 0) lines.push(`  rejected rows: sluice rejects --run ${s.runId}`);
  if (s.error) lines.push('', `The run failed: ${s.error.message}`);
  return lines.join('\n') + '\n';
}
