import type { Command } from 'commander';
import { SluiceError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import { createRegistry } from '../plugins/index.js';
import { startWatcher, watchOnce, type WatchResult } from '../runner/watch-imports.js';
import { listDatasets } from '../store/datasets.js';
import { EXIT, withStore } from './shared.js';

/** Progress to stderr, one line each. */
const logger: Logger = {
  debug: () => undefined,
  info: (message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`),
  warn: (message) => process.stderr.write(`${new Date().toISOString()} warn: ${message}\n`),
  error: (message) => process.stderr.write(`${new Date().toISOString()} error: ${message}\n`),
};

const failed = (r: WatchResult) =>
  r.kind === 'error' ||
  (r.kind === 'imported' && (r.result.status === 'failed' || r.result.status === 'rejected'));

export function registerWatch(program: Command, exit: (code: number) => void) {
  program
    .command('watch')
    .description(
      "Import the files arriving in the active import rules' source folders (see `sluice rules`, docs/imports.md)",
    )
    .option('--once', 'handle the files there now, then exit')
    .option(
      '--stability <ms>',
      'how long a file must stay unchanged (size and time) before it is read',
      '2000',
    )
    .action(async (flags: { once?: boolean; stability: string }) => {
      const stabilityMs = Number(flags.stability);
      if (!Number.isInteger(stabilityMs) || stabilityMs < 0)
        throw new SluiceError(
          'CONFIG_INVALID',
          `--stability ${flags.stability}: expected milliseconds, such as 2000`,
        );
      const registry = createRegistry();
      const abort = new AbortController();
      await withStore(async (db, home) => {
        const options = { db, registry, home, logger, stabilityMs, signal: abort.signal };
        if (flags.once) {
          const results = await watchOnce(options);
          const counts = new Map<string, number>();
          for (const r of results) {
            const key = r.kind === 'imported' ? r.result.status : r.kind;
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
          const summary = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
          process.stdout.write(`${results.length} files: ${summary || 'nothing to do'}\n`);
          if (results.some(failed)) exit(EXIT.failed);
          return;
        }
        const watcher = await startWatcher(options);
        await watcher.ready;
        // Stop on Ctrl-C or SIGTERM: the file being imported finishes (or rolls back) first.
        await new Promise<void>((resolve) => {
          const stop = () => {
            logger.info('stopping');
            abort.abort(new SluiceError('ABORTED', 'the watcher was stopped'));
            resolve();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await watcher.close();
      });
    });

  program
    .command('datasets')
    .description('List the imported datasets, newest first')
    .option('--rule <name>', 'only those of this import rule')
    .option('--label <label>', 'only those of this label')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'as JSON')
    .action(async (flags: { rule?: string; label?: string; limit: string; json?: boolean }) => {
      const rows = await withStore((db) =>
        listDatasets(db, {
          ...(flags.rule ? { rule: flags.rule } : {}),
          ...(flags.label ? { label: flags.label } : {}),
          limit: Number(flags.limit) || 50,
        }),
      );
      if (flags.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      for (const d of rows)
        process.stdout.write(
          `${d.id.padStart(6)} ${d.status.padEnd(8)} ${d.label} ${d.date ?? '-'} ${String(d.row_count).padStart(8)} rows  ${d.target_table} ← ${d.file_name}${d.error ? `  ${d.error.split('\n')[0]}` : ''}\n`,
        );
    });
}
