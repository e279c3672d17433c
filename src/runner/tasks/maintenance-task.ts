import { lstat, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { formatDuration } from '../../core/duration.js';
import { SluiceError } from '../../core/errors.js';
import type { SqlClient } from '../../core/sql.js';
import type { FolderRetention, MaintenanceOptions } from '../../core/task-spec.js';
import { plural } from '../../core/text.js';
import { purgeLedger, purgeLogs, purgeRejects, purgeRuns, referencesTo } from '../../store/retention.js';
import type { TaskAction } from './run-task.js';

/** What maintenance removed. */
export interface MaintenanceReport {
  /** Rows deleted per kind. */
  rows: { rejects: number; logs: number; ledger: number; runs: number };
  folders: { path: string; files: number; bytes: number }[];
}

/** `*.zip` as a regular expression over a whole file name (`*` any text, `?` one character). */
export function namePattern(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Repeats a bounded delete until a batch comes back short; stops between batches when asked to. */
async function inBatches(batch: () => Promise<number>, limit: number, signal: AbortSignal): Promise<number> {
  let total = 0;
  for (;;) {
    if (signal.aborted) throw signal.reason;
    const n = await batch();
    total += n;
    if (n < limit) return total;
  }
}

/**
 * Purges the control plane's history older than each kind's age, in batches: rejects first (they point at
 * ledger entries), then the step log, the ledger and the runs. See `store/retention.ts` for what stays.
 */
export async function purgeHistory(
  db: SqlClient,
  options: MaintenanceOptions,
  signal: AbortSignal,
): Promise<MaintenanceReport['rows']> {
  const { keep, batchSize: limit } = options;
  const rejectRefs = await referencesTo(db, 'rejects');
  const rejects = await inBatches(() => purgeRejects(db, keep.rejects, limit, rejectRefs), limit, signal);
  const logs = await inBatches(() => purgeLogs(db, keep.logs, limit), limit, signal);
  const fileRefs = await referencesTo(db, 'files');
  const ledger = await inBatches(() => purgeLedger(db, keep.ledger, limit, fileRefs), limit, signal);
  const runRefs = await referencesTo(db, 'runs');
  const runs = await inBatches(() => purgeRuns(db, keep.runs, limit, runRefs), limit, signal);
  return { rejects, logs, ledger, runs };
}

/**
 * Deletes the files of a folder (and, with `recursive`, of the folders inside it) whose name matches and
 * that were last modified longer than `olderThan` ago. Links are never followed; folders stay.
 */
export async function purgeFolder(
  folder: FolderRetention,
  signal: AbortSignal,
): Promise<{ files: number; bytes: number }> {
  const match = namePattern(folder.match);
  const cutoff = Date.now() - folder.olderThan;
  const result = { files: 0, bytes: 0 };
  const walk = async (dir: string) => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && dir === folder.path) return;
      throw new SluiceError('TASK_FAILED', `cannot read the folder ${dir}: ${(error as Error).message}`);
    }
    for (const name of names.sort()) {
      if (signal.aborted) throw signal.reason;
      const file = path.join(dir, name);
      const info = await lstat(file).catch(() => undefined);
      if (!info) continue; // gone meanwhile
      if (info.isDirectory()) {
        if (folder.recursive) await walk(file);
        continue;
      }
      if (!info.isFile() || !match.test(name) || info.mtimeMs >= cutoff) continue;
      await unlink(file);
      result.files++;
      result.bytes += info.size;
    }
  };
  await walk(folder.path);
  return result;
}

/** The `maintenance` task: purges history, then old files; reports what it removed. */
export function maintenanceAction(options: MaintenanceOptions): TaskAction {
  return async ({ db, log, signal }) => {
    const k = options.keep;
    log.info(
      `purging rejects older than ${formatDuration(k.rejects)}, step log ${formatDuration(k.logs)}, ledger ${formatDuration(k.ledger)}, runs ${formatDuration(k.runs)}, ${options.batchSize} rows at a time`,
    );
    const rows = await purgeHistory(db, options, signal);
    const report: MaintenanceReport = { rows, folders: [] };
    const outcomes = [
      `removed ${plural(rows.rejects, 'reject')}, ${plural(rows.logs, 'log entry', 'log entries')}, ${plural(rows.ledger, 'ledger entry', 'ledger entries')}, ${plural(rows.runs, 'run')}`,
    ];
    for (const folder of options.folders) {
      const done = await purgeFolder(folder, signal);
      report.folders.push({ path: folder.path, ...done });
      outcomes.push(
        `removed ${plural(done.files, 'file')} (${done.bytes} bytes) older than ${formatDuration(folder.olderThan)} from ${folder.path}`,
      );
    }
    return { outcomes, result: report };
  };
}
