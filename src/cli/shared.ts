import { access, appendFile, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../core/duration.js';
import { readConfigText } from '../core/config-text.js';
import { describeError, isSluiceError, SluiceError } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import type { PipelineSpec } from '../core/spec.js';
import { openStore, sluiceHome } from '../store/connect.js';
import { connectionsFor, type Database } from '../store/database.js';
import { findRuns, hasPipeline, pipelineNames } from '../store/run-lookup.js';
import { formatTime } from './format.js';

export { formatCount } from './format.js';

/** Exit codes: 0 done, 1 the run failed, 2 the command or configuration is wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export async function readPipeline(file: string, registry: Registry): Promise<PipelineSpec> {
  // Imported here: zod and yaml cost a fifth of a second that `sluice runs` and `--help` need not pay.
  const { parsePipeline } = await import('../core/spec.js');
  return parsePipeline(await readConfigText(file), { file, env: process.env, registry });
}

/**
 * Opens the store named by DATABASE_URL, or the embedded one under SLUICE_HOME (`.sluice/`). `lanes`:
 * pipelines the command runs at once, which sizes the connection pool. With `existing`, for commands that
 * only look, an embedded database that is not there is an error saying where it was looked for and how to
 * point at one, rather than a new empty database in whatever folder this is. `share` and `own`: see
 * StoreOptions.
 */
export async function withStore<T>(
  work: (db: Database, home: string) => Promise<T>,
  options: { lanes?: number; existing?: boolean; share?: boolean; own?: boolean } = {},
): Promise<T> {
  const home = sluiceHome();
  const databaseUrl = process.env.DATABASE_URL;
  if (options.existing && !databaseUrl) await requireEmbeddedDatabase(home);
  const db = await openStore({
    home,
    poolSize: connectionsFor(options.lanes ?? 1),
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(options.share ? { share: true } : {}),
    ...(options.own ? { own: true } : {}),
  });
  try {
    return await work(db, home);
  } finally {
    await db.close();
  }
}

/** Refuses to go on when the embedded database in `home` does not exist, saying where and what to do. */
export async function requireEmbeddedDatabase(home: string): Promise<void> {
  const exists = (file: string) =>
    access(path.join(home, file)).then(
      () => true,
      () => false,
    );
  // A held lock: another process is creating or using it (opening it then says which process).
  if ((await exists('pgdata/PG_VERSION')) || (await exists('sluice.lock'))) return;
  throw new SluiceError('CONFIG_NOT_FOUND', `no Sluice database in ${home}: nothing has run here yet`, {
    hint:
      'Run this in the folder where `sluice run` ran, or set SLUICE_HOME to the folder holding the embedded ' +
      'database (a `.sluice` folder) or DATABASE_URL to your PostgreSQL server. `sluice run PIPELINE` creates ' +
      'the embedded database.',
  });
}

/**
 * Prints an error for a person: expected errors as one paragraph, unexpected ones with a pointer to the
 * log file that keeps their stack. Returns the exit code.
 */
export async function reportError(error: unknown): Promise<number> {
  if (isSluiceError(error)) {
    process.stderr.write(`sluice: ${describeError(error)}\n`);
    return error.code === 'CONFIG_INVALID' ||
      error.code === 'CONFIG_NOT_FOUND' ||
      error.code === 'ENV_MISSING' ||
      error.code === 'PLUGIN_UNKNOWN'
      ? EXIT.usage
      : EXIT.failed;
  }
  const home = sluiceHome();
  const dir = path.join(home, 'logs');
  const file = path.join(dir, 'errors.log');
  try {
    await access(home); // a command run outside a project leaves no `.sluice/` behind, even on a bug
    await mkdir(dir, { recursive: true });
    const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
    await appendFile(file, `${new Date().toISOString()} ${stack}\n`, { mode: 0o660 });
    process.stderr.write(`sluice: ${describeError(error)}\n(the details are in ${file})\n`);
  } catch {
    process.stderr.write(`sluice: ${describeError(error)}\n`);
  }
  return EXIT.failed;
}

/**
 * Reads an option value that must be a whole number of at least `min` (`--limit 20`); for commander's
 * argParser, so that `--limit abc` or `--limit 0` is a usage error (exit 2) naming the option.
 */
export function wholeNumber(min = 1) {
  return (value: string): number => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`expected a whole number of at least ${min}, found "${value}".`);
    return n;
  };
}

/**
 * Reads an option value that is a duration with its unit (`--stability 2s`, `--max-run-time 30m`), in
 * milliseconds; for commander's argParser, so that a bare number or other text is a usage error (exit 2)
 * naming the option. `least` is the shortest duration taken (0 lets `0s` turn a wait off).
 */
export function durationArgument(least = 1) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms === undefined)
      throw new InvalidArgumentError(
        `expected a duration with its unit, such as 500ms, 2s or 30m, found "${value}".`,
      );
    if (ms < least) throw new InvalidArgumentError(`expected a duration longer than 0, found "${value}".`);
    return ms;
  };
}

/**
 * The full id of the run a user named by any unique prefix of its id (`3f2a`, like git), or an error that
 * says none or which runs match; never a database error for text that is no id.
 */
export async function resolveRunId(db: Database, given: string): Promise<string> {
  const prefix = given.trim().toLowerCase();
  if (!/^[0-9a-f-]+$/.test(prefix) || prefix.replaceAll('-', '').length === 0)
    throw new SluiceError('CONFIG_INVALID', `"${given}" is not a run id (or the start of one)`, {
      hint: 'Run ids are shown by `sluice runs`: hexadecimal digits, any unique start of them will do.',
    });
  const runs = await findRuns(db, prefix, 6);
  if (runs.length === 1) return runs[0]!.id;
  if (runs.length === 0)
    throw new SluiceError('CONFIG_NOT_FOUND', `no run id starts with ${prefix}`, {
      hint: '`sluice runs` lists the latest runs with their ids.',
    });
  const listed = runs
    .slice(0, 5)
    .map((r) => `  ${r.id}  ${r.pipeline}  ${formatTime(r.started_at)}`)
    .join('\n');
  throw new SluiceError(
    'CONFIG_INVALID',
    `${prefix} is the start of more than one run id; give more of it:\n${listed}${runs.length > 5 ? '\n  …' : ''}`,
  );
}

/** Refuses a pipeline name the ledger has never seen, listing those it has. */
export async function knownPipeline(db: Database, name: string): Promise<void> {
  if (await hasPipeline(db, name)) return;
  const names = await pipelineNames(db);
  throw new SluiceError('CONFIG_NOT_FOUND', `no pipeline named "${name}" has run here`, {
    hint:
      names.length > 0
        ? `Pipelines in the run ledger: ${names.join(', ')}.`
        : 'The run ledger is empty: no pipeline has run yet.',
  });
}

/** The files given, with folders replaced by the YAML files in them (sorted). */
export async function pipelineFiles(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (info?.isDirectory()) {
      const names = (await readdir(p)).filter((n) => /\.ya?ml$/i.test(n)).sort();
      files.push(...names.map((n) => path.join(p, n)));
    } else {
      files.push(p); // a missing file is reported by readPipeline, with its name
    }
  }
  return files;
}
