import path from 'node:path';
import type { Command } from 'commander';
import { SluiceError } from '../core/errors.js';
import { maintenanceOptionsSchema, type TaskSpec } from '../core/task-spec.js';
import { runTask } from '../runner/tasks/run-task.js';
import { taskAction } from '../runner/tasks/task-action.js';
import { stopOnSignals } from '../runner/stop-signals.js';
import { exitCodeOf, stopMessages } from './run-command.js';
import { durationArgument, wholeNumber, withStore } from './shared.js';
import { findTask, formatTaskSummary, tasksDir } from './task-shared.js';

interface MaintenanceFlags {
  task?: string;
  logs?: number;
  rejects?: number;
  ledger?: number;
  runs?: number;
  folder: string[];
  olderThan: number;
  match: string;
  batchSize?: number;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerMaintenance(program: Command, exit: (code: number) => void) {
  program
    .command('maintenance')
    .description(
      'Purge old step logs, rejects, ledger entries and runs, and old files of folders (archives, downloads); reports what it removed',
    )
    .option(
      '--task <file>',
      'take the ages and folders from a maintenance task (a file, or a name in the tasks folder)',
    )
    .option('--logs <age>', 'purge step log entries older than this (default 30d)', durationArgument())
    .option('--rejects <age>', 'purge rejected rows older than this (default 90d)', durationArgument())
    .option(
      '--ledger <age>',
      'purge ledger entries of rejected and skipped files older than this (default 180d)',
      durationArgument(),
    )
    .option('--runs <age>', 'purge finished runs older than this (default 180d)', durationArgument())
    .option('--folder <path>', 'also delete old files in this folder (repeat for several)', collect, [])
    .option('--older-than <age>', 'age of the files deleted in --folder', durationArgument(), 7 * 86_400_000)
    .option('--match <pattern>', 'only files of --folder whose name matches (`*.zip`)', '*')
    .option('--batch-size <n>', 'rows deleted per statement (default 5000)', wholeNumber(1))
    .option('--json', 'print the summary as JSON')
    .action(async (flags: MaintenanceFlags) => {
      const task = await maintenanceTask(flags);
      const summary = await withStore(async (db, home) => {
        const stop = stopOnSignals(stopMessages((line) => process.stderr.write(`${line}\n`)));
        try {
          return await runTask({ db, task, action: taskAction(task), home, signal: stop.signal });
        } finally {
          stop.dispose();
        }
      });
      if (flags.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else process.stdout.write(formatTaskSummary(summary));
      exit(exitCodeOf(summary.status));
    });
}

/** The task the flags describe: a task file's, with the flags given over it, or `maintenance` with defaults. */
async function maintenanceTask(flags: MaintenanceFlags): Promise<TaskSpec> {
  const base = flags.task ? await findTask(flags.task, tasksDir()) : undefined;
  if (base && base.type !== 'maintenance')
    throw new SluiceError('CONFIG_INVALID', `${flags.task} is a ${base.type} task, not a maintenance task`);
  const options = base?.options ?? maintenanceOptionsSchema.parse({});
  const keep = { ...options.keep };
  for (const k of ['logs', 'rejects', 'ledger', 'runs'] as const)
    if (flags[k] !== undefined) keep[k] = flags[k];
  return {
    name: base?.name ?? 'maintenance',
    type: 'maintenance',
    file: base?.file ?? '<inline>',
    ...(base?.notify ? { notify: base.notify } : {}),
    options: {
      keep,
      folders: [
        ...options.folders,
        ...flags.folder.map((p) => ({
          path: path.resolve(p),
          olderThan: flags.olderThan,
          match: flags.match,
          recursive: false,
        })),
      ],
      batchSize: flags.batchSize ?? options.batchSize,
    },
  };
}
