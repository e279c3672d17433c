import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { formatDuration } from '../../core/duration.js';
import { SluiceError } from '../../core/errors.js';
import { removeWritten } from '../../core/partial-file.js';
import { redactUrl } from '../../core/sql.js';
import type { BackupOptions } from '../../core/task-spec.js';
import { plural } from '../../core/text.js';
import type { Database } from '../../store/database.js';
import { runCommand } from './command-task.js';
import type { TaskAction } from './run-task.js';

/** `20260130-020000`: the moment, in UTC, that names a backup (sorts as it happened). */
export function backupStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** The backups of `prefix` in a folder: a server's dumps and the embedded database's copies. */
function isBackupOf(prefix: string, name: string): boolean {
  return name.startsWith(`${prefix}-`) && /^-\d{8}-\d{6}\.(dump|tar\.gz)$/.test(name.slice(prefix.length));
}

/**
 * A connection string without its password, and the password apart: given to pg_dump/pg_restore through
 * the environment, it never shows in the process list.
 */
function connectionParts(url: string): { dbname: string; env: Record<string, string> } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SluiceError('CONFIG_INVALID', `not a database URL: ${redactUrl(url)}`);
  }
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { dbname: parsed.toString(), env: password ? { PGPASSWORD: password } : {} };
}

const KILL_AFTER_MS = 10_000;

/** A backup holds every row: readable by its owner and group only. */
const BACKUP_MODE = 0o640;

/** Runs a PostgreSQL client program; its stderr's last line says why it failed. */
async function runClientProgram(
  program: string,
  args: string[],
  env: Record<string, string>,
  timeout: number,
  signal: AbortSignal,
): Promise<void> {
  const result = await runCommand(
    { program, args, env, cwd: process.cwd(), timeout, killAfter: KILL_AFTER_MS, shell: false },
    signal,
  );
  if (signal.aborted) throw signal.reason;
  if (result.timedOut)
    throw new SluiceError(
      'TASK_FAILED',
      `${program} took longer than its time limit (${formatDuration(timeout)})`,
    );
  if (result.exitCode !== 0)
    throw new SluiceError(
      'TASK_FAILED',
      `${program} failed (exit code ${result.exitCode ?? result.signal}): ${result.stderrTail.split('\n').slice(-3).join(' ')}`,
    );
}

/** `pg_dump --format=custom` of the database at `url` into `file` (written under a temporary name first). */
export async function dumpPostgres(
  url: string,
  file: string,
  options: { pgDump: string; timeout: number },
  signal: AbortSignal,
): Promise<void> {
  const { dbname, env } = connectionParts(url);
  const partial = `${file}.partial`;
  try {
    await runClientProgram(
      options.pgDump,
      ['--format=custom', '--file', partial, '--dbname', dbname],
      env,
      options.timeout,
      signal,
    );
    await chmod(partial, BACKUP_MODE);
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
}

/** The embedded database's consistent copy (see `Database.dumpDataDir`) into `file`. */
async function copyEmbedded(db: Database, file: string): Promise<void> {
  const blob = await db.dumpDataDir!();
  const partial = `${file}.partial`;
  const out = createWriteStream(partial, { mode: BACKUP_MODE });
  try {
    await pipeline(Readable.fromWeb(blob.stream() as WebReadableStream), out);
    await rename(partial, file);
  } catch (error) {
    await removeWritten(out, partial);
    throw error;
  }
}

/**
 * Restores a `pg_dump --format=custom` file into the database at `url` with pg_restore, in one transaction
 * (all or nothing), without the dump's owners and grants. `clean` drops the objects it restores first.
 */
export async function restorePostgres(
  file: string,
  url: string,
  options: { pgRestore?: string; clean?: boolean; timeout?: number },
  signal: AbortSignal,
): Promise<void> {
  const { dbname, env } = connectionParts(url);
  await runClientProgram(
    options.pgRestore ?? 'pg_restore',
    [
      '--no-owner',
      '--no-privileges',
      '--exit-on-error',
      '--single-transaction',
      ...(options.clean ? ['--clean', '--if-exists'] : []),
      '--dbname',
      dbname,
      file,
    ],
    env,
    options.timeout ?? 6 * 60 * 60_000,
    signal,
  );
}

/** Deletes the backups of the prefix older than `keep`, never `newest`; returns the names deleted. */
async function pruneBackups(options: BackupOptions, newest: string): Promise<string[]> {
  const cutoff = Date.now() - options.keep;
  const removed: string[] = [];
  for (const name of (await readdir(options.dir)).sort()) {
    if (!isBackupOf(options.prefix, name) || name === newest) continue;
    const file = path.join(options.dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info || info.mtimeMs >= cutoff) continue;
    await unlink(file);
    removed.push(name);
  }
  return removed;
}

/**
 * The `backup` task: a PostgreSQL database (`url`, or Sluice's own server) is dumped with pg_dump in custom
 * format; the embedded database is copied whole while this process holds its folder's lock. The file is
 * named by the moment in UTC and appears complete or not at all; older backups past `keep` are deleted.
 */
export function backupAction(options: BackupOptions): TaskAction {
  return async ({ db, databaseUrl, log, signal }) => {
    await mkdir(options.dir, { recursive: true, mode: 0o750 });
    const url = options.url ?? databaseUrl;
    const stamp = backupStamp(new Date());
    let name: string;
    if (url) {
      name = `${options.prefix}-${stamp}.dump`;
      log.info(`dumping ${redactUrl(url)} with ${options.pgDump} into ${path.join(options.dir, name)}`);
      await dumpPostgres(url, path.join(options.dir, name), options, signal);
    } else if (db.dumpDataDir) {
      name = `${options.prefix}-${stamp}.tar.gz`;
      log.info(`copying the embedded database into ${path.join(options.dir, name)}`);
      await copyEmbedded(db, path.join(options.dir, name));
    } else {
      throw new SluiceError('TASK_FAILED', 'no database to back up: give the backup task a url');
    }
    const file = path.join(options.dir, name);
    const { size } = await stat(file);
    const removed = await pruneBackups(options, name);
    return {
      outcomes: [
        `backed up to ${file} (${size} bytes)`,
        `removed ${plural(removed.length, 'backup')} older than ${formatDuration(options.keep)}${removed.length ? `: ${removed.join(', ')}` : ''}`,
      ],
      result: { file, size, removed },
    };
  };
}
