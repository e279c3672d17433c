import path from 'node:path';
import type { Command } from 'commander';
import { SluiceError } from '../core/errors.js';
import { backupOptionsSchema, type TaskSpec } from '../core/task-spec.js';
import { runTask } from '../runner/tasks/run-task.js';
import { taskAction } from '../runner/tasks/task-action.js';
import { stopOnSignals } from '../runner/stop-signals.js';
import { exitCodeOf, stopMessages } from './run-command.js';
import { durationArgument, withStore } from './shared.js';
import { findTask, formatTaskSummary, tasksDir } from './task-shared.js';

interface BackupFlags {
  task?: string;
  dir?: string;
  keep?: number;
  prefix?: string;
  json?: boolean;
}

export function registerBackup(program: Command, exit: (code: number) => void) {
  program
    .command('backup')
    .description(
      "Back up Sluice's database into a dated file (pg_dump, or a copy of the embedded one) and delete old backups",
    )
    .option(
      '--task <file>',
      'take the folder, prefix and retention from a backup task (a file, or a name in the tasks folder)',
    )
    .option('--dir <folder>', 'folder of the backups (default: backups in SLUICE_HOME)')
    .option(
      '--keep <age>',
      'delete backups older than this (default 14d); the newest always stays',
      durationArgument(),
    )
    .option('--prefix <text>', 'start of the file names (default sluice)')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: BackupFlags) => {
      const base = flags.task ? await findTask(flags.task, tasksDir()) : undefined;
      if (base && base.type !== 'backup')
        throw new SluiceError('CONFIG_INVALID', `${flags.task} is a ${base.type} task, not a backup task`);
      const summary = await withStore(async (db, home) => {
        const options = base?.options ?? backupOptionsSchema.parse({ dir: path.join(home, 'backups') });
        const prefix = flags.prefix ?? options.prefix;
        if (!/^[A-Za-z0-9_.-]+$/.test(prefix))
          throw new SluiceError(
            'CONFIG_INVALID',
            `--prefix takes letters, digits, "_", "." or "-", found "${prefix}"`,
          );
        const task: TaskSpec = {
          name: base?.name ?? 'backup',
          type: 'backup',
          file: base?.file ?? '<inline>',
          ...(base?.notify ? { notify: base.notify } : {}),
          options: {
            ...options,
            dir: flags.dir ? path.resolve(flags.dir) : options.dir,
            keep: flags.keep ?? options.keep,
            prefix,
          },
        };
        const stop = stopOnSignals(stopMessages((line) => process.stderr.write(`${line}\n`)));
        try {
          return await runTask({
            db,
            task,
            action: taskAction(task),
            home,
            ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
            signal: stop.signal,
          });
        } finally {
          stop.dispose();
        }
      });
      if (flags.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else process.stdout.write(formatTaskSummary(summary));
      exit(exitCodeOf(summary.status));
    });
}
