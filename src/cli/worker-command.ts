import type { Command } from 'commander';
import { durationArgument, wholeNumber } from './shared.js';
import { runServiceProcess, type ServiceFlags } from './serve-command.js';

export function registerWorker(program: Command, exit: (code: number) => void) {
  program
    .command('worker')
    .description('Run queued jobs only (PostgreSQL server; several workers share the queue)')
    .argument('[service-file]', 'YAML naming the pipelines it may run (default: SLUICE_SERVICE_FILE)')
    .option('--concurrency <n>', 'jobs run at once', wholeNumber(1), 2)
    .option(
      '--grace <duration>',
      'on SIGTERM, how long running jobs may take before they are stopped',
      durationArgument(0),
      30_000,
    )
    .action(async (file: string | undefined, flags: ServiceFlags) =>
      exit(await runServiceProcess('worker', file, flags)),
    );
}
