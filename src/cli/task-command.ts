import type { Command } from 'commander';
import { isIsoDate } from '../core/dates.js';
import { SluiceError } from '../core/errors.js';
import { runTask } from '../runner/tasks/run-task.js';
import { taskAction } from '../runner/tasks/task-action.js';
import { stopOnSignals } from '../runner/stop-signals.js';
import { exitCodeOf, stopMessages } from './run-command.js';
import { withStore } from './shared.js';
import { findTask, formatTaskSummary, tasksDir } from './task-shared.js';

interface TaskRunFlags {
  dir?: string;
  asOf?: string;
  json?: boolean;
  verbose?: boolean;
}

export function registerTask(program: Command, exit: (code: number) => void) {
  const task = program
    .command('task')
    .description(
      'Tasks: commands, maintenance and backups, recorded in the run ledger (see docs/operations.md)',
    );
  task
    .command('run')
    .description('Run a task now (a task file, or a task name found in tasks/)')
    .argument('<task>', 'a task file (YAML), or the name of a task in the tasks folder')
    .option('--dir <folder>', 'where task names are looked up (default: $SLUICE_TASKS or ./tasks)')
    .option('--as-of <date>', 'the run date, YYYY-MM-DD (default: today)')
    .option('--verbose', 'print every step')
    .option('--json', 'print the summary as JSON')
    .action(async (given: string, flags: TaskRunFlags) => {
      if (flags.asOf && !isIsoDate(flags.asOf))
        throw new SluiceError(
          'CONFIG_INVALID',
          `--as-of must be a date as YYYY-MM-DD, found "${flags.asOf}"`,
        );
      const spec = await findTask(given, flags.dir ?? tasksDir());
      const summary = await withStore(async (db, home) => {
        const stop = stopOnSignals(stopMessages((line) => process.stderr.write(`${line}\n`)));
        try {
          return await runTask({
            db,
            task: spec,
            action: taskAction(spec),
            home,
            ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
            signal: stop.signal,
            ...(flags.asOf ? { asOf: flags.asOf } : {}),
            onLog: (entry) => {
              if (flags.verbose)
                process.stderr.write(
                  `${entry.loggedAt} ${entry.level.padEnd(5)} #${entry.step} ${entry.message}\n`,
                );
            },
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
