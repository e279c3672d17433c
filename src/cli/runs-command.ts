import type { Command } from 'commander';
import type { SqlClient } from '../core/sql.js';
import { getRun, listRuns, type RunRow } from '../store/runs.js';
import { runFiles, type RunFileRow } from '../store/run-lookup.js';
import { runLogPage, type LogView } from '../store/service-views.js';
import {
  formatCount,
  formatDuration,
  formatTable,
  formatTime,
  parseTimestamp,
  plural,
  type TableColumn,
} from './format.js';
import { knownPipeline, resolveRunId, wholeNumber, withStore } from './shared.js';

interface RunsFlags {
  pipeline?: string;
  limit: number;
  json?: boolean;
  log?: boolean;
}

export function registerRuns(program: Command) {
  program
    .command('runs')
    .description('List recent runs from the run ledger, or show one run')
    .argument('[run]', 'a run id, or any unique start of one: show that run and its files')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--limit <n>', 'how many', wholeNumber(1), 20)
    .option('--json', 'as JSON')
    .option(
      '--log',
      'with a run: its step log too, every entry in order (what happened, warnings, the error)',
    )
    .action(async (run: string | undefined, flags: RunsFlags) => {
      if (run !== undefined) return showRun(run, flags);
      const runs = await withStore(
        async (db) => {
          if (flags.pipeline) await knownPipeline(db, flags.pipeline);
          return listRuns(db, {
            limit: flags.limit,
            ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
          });
        },
        { existing: true },
      );
      if (flags.json) process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
      else if (runs.length === 0) process.stdout.write('No runs yet: `sluice run PIPELINE` starts one.\n');
      else process.stdout.write(formatRuns(runs));
    });
}

/** How long a run took; a run still going shows how long it has been going. */
function took(r: RunRow): string {
  const start = parseTimestamp(r.started_at);
  const end = r.ended_at ? parseTimestamp(r.ended_at) : undefined;
  if (!start) return '';
  if (!end) return r.status === 'running' ? `${formatDuration(Date.now() - start.getTime())} so far` : '';
  return formatDuration(end.getTime() - start.getTime());
}

/** What a run handled: tables for a sync run, files otherwise. */
function units(r: RunRow): string {
  if (r.units_loaded > 0) return plural(r.units_loaded, 'table');
  const more = [
    r.files_skipped > 0 ? `${formatCount(r.files_skipped)} skipped` : '',
    r.files_rejected > 0 ? `${formatCount(r.files_rejected)} rejected` : '',
  ].filter(Boolean);
  return `${plural(r.files_loaded, 'file')} loaded${more.length > 0 ? ` (${more.join(', ')})` : ''}`;
}

const RUN_COLUMNS: TableColumn[] = [
  { header: 'RUN' },
  { header: 'STARTED' },
  { header: 'PIPELINE' },
  { header: 'STATUS' },
  { header: 'AS OF' },
  { header: 'TOOK', right: true },
  { header: 'ROWS LOADED', right: true },
  { header: 'REJECTED', right: true },
  { header: 'FILES' },
];

/** One line per run under a header, columns aligned; a failed run's error on the line below it. */
export function formatRuns(runs: readonly RunRow[]): string {
  const table = formatTable(
    RUN_COLUMNS,
    runs.map((r) => [
      r.id.slice(0, 8),
      formatTime(r.started_at),
      r.pipeline,
      r.dry_run ? `${r.status} (dry run)` : r.status,
      r.as_of,
      took(r),
      formatCount(r.rows_loaded),
      formatCount(r.rows_rejected),
      units(r),
    ]),
  ).split('\n');
  const out = [table[0]!];
  runs.forEach((r, i) => {
    out.push(table[i + 1]!);
    if (r.error) out.push(`  ${r.error.split('\n')[0]}`);
  });
  return out.join('\n') + '\n';
}

async function showRun(given: string, flags: RunsFlags): Promise<void> {
  const { run, files, log } = await withStore(
    async (db) => {
      const id = await resolveRunId(db, given);
      return {
        run: (await getRun(db, id))!,
        files: await runFiles(db, id),
        log: flags.log ? await wholeLog(db, id) : [],
      };
    },
    { existing: true },
  );
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ...run, files, ...(flags.log ? { log } : {}) }, null, 2) + '\n');
    return;
  }
  process.stdout.write(formatRun(run, files));
  if (flags.log) process.stdout.write(`\n${formatLog(log)}`);
  else process.stdout.write(`Step log: sluice runs ${run.id.slice(0, 8)} --log\n`);
}

const LOG_PAGE = 1000;

/** A run's whole step log, read a page at a time (bounded queries for a run of thousands of warnings). */
async function wholeLog(db: SqlClient, runId: string): Promise<LogView[]> {
  const entries: LogView[] = [];
  for (;;) {
    const after = entries.at(-1)?.id;
    const page = await runLogPage(db, runId, { limit: LOG_PAGE, ...(after ? { after } : {}) });
    entries.push(...page);
    if (page.length < LOG_PAGE) return entries;
  }
}

/** A step log as lines: time of day, level, message (multi-line messages indented under it). */
export function formatLog(entries: readonly LogView[]): string {
  if (entries.length === 0) return 'No step log for this run (removed by maintenance, or never written).\n';
  return entries
    .map((e) => {
      const time = formatTime(e.loggedAt).slice(11);
      return `${time}  ${e.level.padEnd(5)}  ${e.message.replaceAll('\n', '\n                 ')}`;
    })
    .join('\n')
    .concat('\n');
}

/** One run in full: counts, timings per step, its error and every file it recorded. */
export function formatRun(r: RunRow, files: readonly RunFileRow[]): string {
  const lines = [
    `Run ${r.id} of ${r.pipeline}: ${r.status}${r.dry_run ? ' (dry run)' : ''}`,
    `  started  ${formatTime(r.started_at)}${r.ended_at ? `, took ${took(r)}` : ''}, as of ${r.as_of}${r.attempts > 1 ? `, ${plural(r.attempts, 'attempt')}` : ''}`,
    `  files    ${formatCount(r.files_loaded)} loaded, ${formatCount(r.files_skipped)} skipped, ${formatCount(r.files_rejected)} rejected${r.units_loaded > 0 ? `; ${plural(r.units_loaded, 'table')} loaded` : ''}`,
    `  rows     ${formatCount(r.rows_read)} read, ${formatCount(r.rows_loaded)} loaded, ${formatCount(r.rows_rejected)} rejected`,
  ];
  const steps = Object.entries(r.timings ?? {}).filter(([, ms]) => Number(ms) > 0);
  if (steps.length > 0)
    lines.push(`  timings  ${steps.map(([step, ms]) => `${step} ${formatDuration(Number(ms))}`).join(', ')}`);
  if (r.error) lines.push(`  error    ${r.error_code ? `${r.error_code}: ` : ''}${r.error}`);
  if (files.length > 0) {
    lines.push('');
    lines.push(
      formatTable(
        [
          { header: 'FILE' },
          { header: 'STATUS' },
          { header: 'ROWS', right: true },
          { header: 'REJECTED', right: true },
          { header: 'NOTE' },
        ],
        files.map((f) => [
          f.name,
          f.status,
          f.status === 'loaded' ? formatCount(f.rows_loaded) : '',
          f.status === 'loaded' ? formatCount(f.rows_rejected) : '',
          f.reason ?? (f.archived_to ? `archived to ${f.archived_to}` : ''),
        ]),
      ).trimEnd(),
    );
  }
  if (Number(r.rows_rejected) > 0 || r.files_rejected > 0)
    lines.push('', `Rejected rows: sluice rejects --run ${r.id}`);
  return lines.join('\n') + '\n';
}
