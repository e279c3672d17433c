import type { Command } from 'commander';
import { runServiceProcess, withWorkerOptions, type ServiceFlags } from './serve-command.js';

export function registerWorker(program: Command, exit: (code: number) => void) {
  const worker = program
    .command('worker')
    .description('Run queued jobs only (PostgreSQL server; several workers share the queue)')
    .argument('[service-file]', 'YAML naming the pipelines it may run (default: SLUICE_SERVICE_FILE)');
  withWorkerOptions(worker, 'jobs run at once').action(
    async (file: string | undefined, flags: ServiceFlags) =>
      exit(await runServiceProcess('worker', file, flags)),
  );
}
