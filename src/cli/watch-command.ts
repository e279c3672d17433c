import { Option, type Command } from 'commander';
import { SluiceError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import { createRegistry } from '../plugins/index.js';
import { startWatcher, watchOnce, type WatchResult } from '../runner/watch-imports.js';
import type { Database } from '../store/database.js';
import { listRejects } from '../store/rejects.js';
import { plural } from './format.js';
import { durationArgument, EXIT, withStore } from './shared.js';

/** Progress to stderr, one line each. */
const logger: Logger = {
  debug: () => undefined,
  info: (message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`),
  warn: (message) => process.stderr.write(`${new Date().toISOString()} warn: ${message}\n`),
  error: (message) => process.stderr.write(`${new Date().toISOString()} error: ${message}\n`),
};

/** How many of a file's rejected rows are logged; `sluice rejects --run ID` shows them all. */
const LOGGED_REJECTS = 10;

/**
 * Logs the warnings of an imported file's run, then its rejected rows (file, line, column, rule, why), the
 * first few of them.
 */
async function logRejects(db: Database, r: WatchResult): Promise<void> {
  if (r.kind !== 'imported') return;
  const { result } = r;
  for (const warning of result.warnings) logger.warn(warning);
  if (result.rowsRejected === 0) return;
  const name = result.file.split(/[\\/]/).pop();
  logger.warn(
    `${name}: ${plural(result.rowsRejected, 'row')} rejected (the whole list: sluice rejects --run ${result.runId})`,
  );
  const rejects = await listRejects(db, { runId: result.runId, limit: LOGGED_REJECTS });
  for (const j of rejects) {
    const column = j.column_name ? `${j.column_name}: ` : '';
    const value = j.value !== null ? ` (value ${JSON.stringify(j.value)})` : '';
    logger.warn(`  ${j.file}:${j.line ?? '-'} ${j.rule} ${column}${j.message}${value}`);
  }
  if (result.rowsRejected > rejects.length)
    logger.warn(`  … and ${plural(result.rowsRejected - rejects.length, 'more row')}`);
}

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
    .addOption(
      new Option(
        '--stability <duration>',
        'how long a file must stay unchanged (size and time) before it is read, such as 2s or 500ms',
      )
        .argParser(durationArgument(0))
        .default(2000, '2s'),
    )
    .action(async (flags: { once?: boolean; stability: number }) => {
      const stabilityMs = flags.stability;
      const registry = createRegistry();
      const abort = new AbortController();
      await withStore(
        async (db, home) => {
          // Logged as each file is done; awaited before the database closes.
          let logging = Promise.resolve();
          const onResult = (r: WatchResult) => {
            logging = logging
              .then(() => logRejects(db, r))
              .catch((error: unknown) => logger.error(`listing the rejected rows failed: ${String(error)}`));
          };
          const options = { db, registry, home, logger, stabilityMs, signal: abort.signal, onResult };
          if (flags.once) {
            const results = await watchOnce(options);
            const counts = new Map<string, number>();
            for (const r of results) {
              const key = r.kind === 'imported' ? r.result.status : r.kind;
              counts.set(key, (counts.get(key) ?? 0) + 1);
            }
            await logging;
            const summary = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
            process.stdout.write(`${plural(results.length, 'file')}: ${summary || 'nothing to do'}\n`);
            if (results.some(failed)) exit(EXIT.failed);
            return;
          }
          // Stop on Ctrl-C or SIGTERM, also while the folders are still being read: the file being imported
          // finishes (or rolls back) first.
          const stopped = new Promise<void>((resolve) => {
            const stop = () => {
              logger.info('stopping');
              abort.abort(new SluiceError('ABORTED', 'the watcher was stopped'));
              resolve();
            };
            process.once('SIGINT', stop);
            process.once('SIGTERM', stop);
          });
          const watcher = await startWatcher(options);
          await stopped;
          await watcher.close();
          await logging;
        },
        { share: !flags.once },
      );
    });
}
