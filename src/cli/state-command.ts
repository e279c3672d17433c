import type { Command } from 'commander';
import { SluiceError } from '../core/errors.js';
import { listState, resetState } from '../store/state.js';
import { plural } from './format.js';
import { withStore } from './shared.js';

export function registerState(program: Command) {
  const state = program.command('state').description("A pipeline's saved state: watermarks, ETags");
  state
    .command('show')
    .description('Show saved state, of every pipeline or of one')
    .argument('[pipeline]', 'pipeline name')
    .option('--json', 'as JSON')
    .action(async (pipeline: string | undefined, flags: { json?: boolean }) => {
      const entries = await withStore((db) => listState(db, pipeline), { existing: true });
      if (flags.json) {
        process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
        return;
      }
      if (entries.length === 0) {
        process.stdout.write(pipeline ? `no state saved for ${pipeline}\n` : 'no state saved\n');
        return;
      }
      for (const e of entries) {
        process.stdout.write(
          `${e.pipeline}  ${e.key} = ${JSON.stringify(e.value)}  (run ${e.runId ?? '-'}, ${e.updatedAt})\n`,
        );
      }
    });
  state
    .command('reset')
    .description("Forget a pipeline's state (all of it, or the keys given): its next run starts over")
    .argument('<pipeline>', 'pipeline name')
    .argument('[keys...]', 'only these keys')
    .option('--yes', 'do it (without it, only say what would go)')
    .action(async (pipeline: string, keys: string[], flags: { yes?: boolean }) => {
      await withStore(
        async (db) => {
          const entries = (await listState(db, pipeline)).filter(
            (e) => keys.length === 0 || keys.includes(e.key),
          );
          if (entries.length === 0)
            throw new SluiceError('CONFIG_INVALID', `no such state saved for ${pipeline}`);
          if (!flags.yes) {
            process.stdout.write(
              `would forget ${entries.map((e) => e.key).join(', ')} of ${pipeline}; add --yes to do it\n`,
            );
            return;
          }
          const n = await resetState(db, pipeline, keys);
          process.stdout.write(`forgot ${plural(n, 'state entry', 'state entries')} of ${pipeline}\n`);
        },
        { existing: true },
      );
    });
}
