import type { Command } from 'commander';
import { isIsoDate } from '../core/dates.js';
import { SluiceError } from '../core/errors.js';
import { createRegistry } from '../plugins/index.js';
import type { Registry } from '../core/registry.js';
import type { PipelineSpec } from '../core/spec.js';
import { runGroup, type GroupMemberResult } from '../runner/run-group.js';
import { runPipeline, type RunSummary } from '../runner/run-pipeline.js';
import { SIGNAL_EXIT, stopOnSignals } from '../runner/stop-signals.js';
import type { Database } from '../store/database.js';
import { createProgressView } from './progress-view.js';
import { formatDuration, plural } from './format.js';
import { EXIT, formatCount, pipelineFiles, readPipeline, withStore } from './shared.js';

/** Pipelines run at once at most: each needs its own database connections (see `connectionsFor`). */
const MAX_LANES = 64;

interface RunFlags {
  group?: string;
  maxConcurrent?: string;
  force?: boolean;
  asOf?: string;
  dryRun?: boolean;
  verbose?: boolean;
  json?: boolean;
}

export function registerRun(program: Command, exit: (code: number) => void) {
  program
    .command('run')
    .description('Run a pipeline once, or the pipelines of a group side by side')
    .argument('<pipelines...>', 'pipeline files (YAML), or folders of them')
    .option('--group <name>', 'run the pipelines of this group (found in the files and folders given)')
    .option('--max-concurrent <n>', 'pipelines of a group run at once', '1')
    .option('--force', 'run even inside the refresh window')
    .option('--as-of <date>', 'the run date, YYYY-MM-DD (default: today)')
    .option('--dry-run', 'do everything in a transaction that is rolled back; touch no file')
    .option('--verbose', 'print every step')
    .option('--json', 'print the summary as JSON')
    .action(async (paths: string[], flags: RunFlags) => {
      if (flags.asOf && !isIsoDate(flags.asOf)) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `--as-of must be a date as YYYY-MM-DD, found "${flags.asOf}"`,
        );
      }
      const maxConcurrent = Number(flags.maxConcurrent ?? '1');
      if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > MAX_LANES) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `--max-concurrent must be a whole number from 1 to ${MAX_LANES}, found "${flags.maxConcurrent}"`,
        );
      }
      const registry = createRegistry();
      const files = await pipelineFiles(paths);
      const specs = await Promise.all(files.map((f) => readPipeline(f, registry)));
      if (flags.group === undefined && specs.length === 1) {
        exit(await runOne(specs[0]!, registry, flags));
        return;
      }
      const members = flags.group ? specs.filter((s) => s.groups.includes(flags.group!)) : specs;
      if (members.length === 0) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `no pipeline of group "${flags.group}" in ${paths.join(', ')}`,
          { hint: 'A pipeline joins a group with `group: NAME` at its top level.' },
        );
      }
      const names = new Set<string>();
      for (const spec of members) {
        if (names.has(spec.name))
          throw new SluiceError('CONFIG_INVALID', `two pipelines are named ${spec.name}`, {
            where: spec.file,
          });
        names.add(spec.name);
      }
      exit(await runMany(members, registry, flags, maxConcurrent));
    });
}

async function runOne(spec: PipelineSpec, registry: Registry, flags: RunFlags): Promise<number> {
  const summary = await withStore(async (db, home) => {
    const view = createProgressView({
      enabled: !flags.json && !flags.verbose && process.stderr.isTTY === true,
    });
    const stop = stopOnSignals(stopMessages(view.note));
    try {
      return await runPipeline({
        ...runOptions(db, home, registry, flags, stop.signal),
        spec,
        onProgress: view.update,
        onLog: (entry) => {
          if (flags.verbose)
            process.stderr.write(
              `${entry.loggedAt} ${entry.level.padEnd(5)} #${entry.step} +${entry.stepMs}ms ${entry.message}\n`,
            );
          // Off a terminal the summary carries the warnings (once); errors are said as they happen.
          else if (entry.level === 'error' || (entry.level === 'warn' && process.stderr.isTTY === true))
            view.note(`${entry.level}: ${entry.message}`);
        },
      });
    } finally {
      view.stop();
      stop.dispose();
    }
  });
  if (flags.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  else process.stdout.write(formatSummary(summary));
  return exitCodeOf(summary.status);
}

async function runMany(
  specs: PipelineSpec[],
  registry: Registry,
  flags: RunFlags,
  maxConcurrent: number,
): Promise<number> {
  const lanes = Math.min(maxConcurrent, specs.length);
  const results = await withStore(
    async (db, home) => {
      const stop = stopOnSignals(stopMessages((line) => process.stderr.write(`${line}\n`)));
      try {
        return await runGroup(specs, {
          ...runOptions(db, home, registry, flags, stop.signal),
          maxConcurrent: lanes,
          onDone: (r) => {
            if (!flags.json) process.stderr.write(`${r.pipeline}: ${r.status}\n`);
          },
        });
      } finally {
        stop.dispose();
      }
    },
    { lanes },
  );
  if (flags.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  else process.stdout.write(formatGroup(results));
  if (results.some((r) => r.status === 'stopped')) return SIGNAL_EXIT.SIGINT;
  return results.every((r) => r.status === 'succeeded' || r.status === 'skipped') ? EXIT.ok : EXIT.failed;
}

/** The exit code of a run: 0 succeeded (rejects included) or skipped, 1 failed, 130 stopped. */
export function exitCodeOf(status: RunSummary['status']): number {
  if (status === 'failed') return EXIT.failed;
  if (status === 'stopped') return SIGNAL_EXIT.SIGINT;
  return EXIT.ok;
}

/** What the user sees on Ctrl-C: the first asks the run to stop, the second exits at once. */
export function stopMessages(note: (line: string) => void) {
  return {
    onStopping: (name: NodeJS.Signals) =>
      note(`${name}: stopping after the current step; what committed stays (${name} again exits now)`),
    onExitNow: (name: NodeJS.Signals) => process.stderr.write(`\nsluice: ${name} again: exiting now\n`),
  };
}

function runOptions(db: Database, home: string, registry: Registry, flags: RunFlags, signal: AbortSignal) {
  return {
    db,
    registry,
    home,
    ...(flags.asOf ? { asOf: flags.asOf } : {}),
    dryRun: flags.dryRun ?? false,
    verbose: flags.verbose ?? false,
    force: flags.force ?? false,
    signal,
  };
}

export function formatGroup(results: GroupMemberResult[]): string {
  const width = Math.max(...results.map((r) => r.pipeline.length));
  const lines = results.map((r) => {
    const s = r.summary;
    const detail =
      r.status === 'skipped'
        ? (s?.skipReason ?? '')
        : s && r.status !== 'failed'
          ? `${plural(s.rowsLoaded, 'row')} loaded, ${formatCount(s.rowsRejected)} rejected in ${formatDuration(s.durationMs)}`
          : (r.error?.message ?? '');
    const warned = s && s.warnings.length > 0 ? ` (${plural(s.warnings.length, 'warning')})` : '';
    return `  ${r.pipeline.padEnd(width)}  ${r.status.padEnd(9)}  ${detail}${warned}`.trimEnd();
  });
  const ok = results.filter((r) => r.status === 'succeeded' || r.status === 'skipped').length;
  const warnings = results.flatMap((r) =>
    (r.summary?.warnings ?? []).map((w) => `  warning: ${r.pipeline}: ${w}`),
  );
  return (
    [
      `${formatCount(ok)} of ${plural(results.length, 'pipeline')} succeeded or ${ok === 1 ? 'was' : 'were'} skipped`,
      ...lines,
      ...warnings,
    ].join('\n') + '\n'
  );
}

export function formatSummary(s: RunSummary): string {
  if (s.status === 'skipped') return `Skipped ${s.pipeline}: ${s.skipReason}\n`;
  const lines = [
    `${s.dryRun ? 'Dry run' : 'Run'} ${s.runId} of ${s.pipeline} ${s.status} in ${formatDuration(s.durationMs)} (as of ${s.asOf}${s.resumed ? ', resumed' : ''})`,
    `  files: ${formatCount(s.filesLoaded)} loaded, ${formatCount(s.filesSkipped)} skipped, ${formatCount(s.filesRejected)} rejected`,
    `  rows:  ${formatCount(s.rowsRead)} read, ${formatCount(s.rowsLoaded)} loaded, ${formatCount(s.rowsRejected)} rejected`,
  ];
  for (const f of s.files) {
    const atSource = f.atSource ? `; ${f.atSource}` : '';
    if (f.status === 'rejected') lines.push(`  rejected ${f.name}: ${f.reason}${atSource}`);
    else if (f.status === 'skipped') lines.push(`  skipped  ${f.name}: ${f.reason}${atSource}`);
    else
      lines.push(
        `  loaded   ${f.name}: ${plural(f.rowsLoaded, 'row')}${f.rowsRejected ? `, ${formatCount(f.rowsRejected)} rejected` : ''}${atSource}`,
      );
  }
  if (s.archive) lines.push(`  archive: ${s.archive}`);
  for (const o of s.outcomes ?? []) lines.push(`  ${o}`);
  // The summary is the run's full record (stdout may go to a file of its own): its warnings belong in it,
  // whatever was noted on stderr while it ran.
  for (const w of s.warnings ?? []) lines.push(`  warning: ${w}`);
  if (s.dryRun) lines.push('  nothing was committed: this was a dry run');
  else if (s.rowsRejected > 0) lines.push(`  rejected rows: sluice rejects --run ${s.runId}`);
  if (s.error) lines.push('', `The run failed: ${s.error.message}`);
  return lines.join('\n') + '\n';
}
