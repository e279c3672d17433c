import { appendFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describeError, isSluiceError, SluiceError } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import { parsePipeline, type PipelineSpec } from '../core/spec.js';
import { openStore, sluiceHome } from '../store/connect.js';
import { connectionsFor, type Database } from '../store/database.js';

/** Exit codes: 0 done, 1 the run failed, 2 the command or configuration is wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const UNREADABLE: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'a folder, not a file',
};

/** A configuration file's text, or CONFIG_NOT_FOUND naming it (once) and why it cannot be read. */
export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SluiceError(
      'CONFIG_NOT_FOUND',
      `cannot be read: ${(code && UNREADABLE[code]) ?? code ?? String(error)}`,
      {
        where: file,
      },
    );
  }
}

export async function readPipeline(file: string, registry: Registry): Promise<PipelineSpec> {
  return parsePipeline(await readConfigText(file), { file, env: process.env, registry });
}

/**
 * Opens the store named by DATABASE_URL, or the embedded one under SLUICE_HOME (`.sluice/`). `lanes`:
 * pipelines the command runs at once, which sizes the connection pool.
 */
export async function withStore<T>(
  work: (db: Database, home: string) => Promise<T>,
  options: { lanes?: number } = {},
): Promise<T> {
  const home = sluiceHome();
  const databaseUrl = process.env.DATABASE_URL;
  const db = await openStore({
    home,
    poolSize: connectionsFor(options.lanes ?? 1),
    ...(databaseUrl ? { databaseUrl } : {}),
  });
  try {
    return await work(db, home);
  } finally {
    await db.close();
  }
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
  const dir = path.join(sluiceHome(), 'logs');
  const file = path.join(dir, 'errors.log');
  try {
    await mkdir(dir, { recursive: true });
    const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
    await appendFile(file, `${new Date().toISOString()} ${stack}\n`, { mode: 0o660 });
    process.stderr.write(`sluice: ${describeError(error)}\n(the details are in ${file})\n`);
  } catch {
    process.stderr.write(`sluice: ${describeError(error)}\n`);
  }
  return EXIT.failed;
}

export const formatCount = (n: number) => n.toLocaleString('en-US');

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
