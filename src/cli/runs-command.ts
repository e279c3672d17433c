import type { Command } from 'commander';
import { listRuns } from '../store/runs.js';
import { withStore } from './shared.js';

export function registerRuns(program: Command) {
  program
    .command('runs')
    .description('List recent runs from the run ledger')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'as JSON')
    .action(async (flags: { pipeline?: string; limit: string; json?: boolean }) => {
      const runs = await withStore((db) =>
        listRuns(db, {
          limit: Number(flags.limit) || 20,
          ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
        }),
      );
      if (flags.json) {
        process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
        return;
      }
      for (const r of runs) {
        process.stdout.write(
          `${r.started_at}  ${r.pipeline.padEnd(16)} ${r.status.padEnd(11)} as of ${r.as_of}  ${
            r.units_loaded > 0
              ? `tables ${r.units_loaded}`
              : `files ${r.files_loaded}/${r.files_skipped}/${r.files_rejected} (loaded/skipped/rejected)`
          }  rows ${r.rows_loaded} loaded, ${r.rows_rejected} rejected  ${r.id}${r.error ? `\n    ${r.error}` : ''}\n`,
        );
      }
    });
}
