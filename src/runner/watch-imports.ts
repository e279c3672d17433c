import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { uniqueName } from '../core/file-names.js';
import { describeError } from '../core/errors.js';
import { formatDuration } from '../core/duration.js';
import type { ImportRule } from '../core/import-rule-spec.js';
import type { Logger } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import type { Database } from '../store/database.js';
import { listImportRules } from '../store/import-rules.js';
import { plural } from '../core/text.js';
import { importFile, type ImportResult } from './import-file.js';

/** Where a file no active rule matches goes, inside its source folder. */
export const UNMATCHED_FOLDER = 'unmatched';

export interface WatchOptions {
  db: Database;
  registry: Registry;
  home: string;
  logger: Logger;
  /** How long a file's size and modification time must stay the same before it is read. */
  stabilityMs?: number;
  /** How often the rules are read again (new rules, new folders). */
  refreshMs?: number;
  onResult?: (result: WatchResult) => void;
  signal?: AbortSignal;
}

export type WatchResult =
  | { kind: 'imported'; file: string; result: ImportResult }
  | { kind: 'unmatched'; file: string; movedTo: string }
  | { kind: 'error'; file: string; error: string };

const DEFAULT_STABILITY_MS = 2_000;
const DEFAULT_REFRESH_MS = 30_000;

/** The usable active rules, highest priority first; a stored rule that does not check is logged and left out. */
async function activeRules(options: WatchOptions, warned: Set<string>): Promise<ImportRule[]> {
  const stored = await listImportRules(options.db, options.registry, { activeOnly: true });
  const rules: ImportRule[] = [];
  for (const s of stored) {
    if (s.rule) rules.push(s.rule);
    else if (!warned.has(`${s.name}:${s.problem}`)) {
      warned.add(`${s.name}:${s.problem}`);
      options.logger.error(`import rule ${s.name} is invalid and is not used: ${s.problem}`);
    }
  }
  return rules;
}

const folders = (rules: readonly ImportRule[]) => [
  ...new Set(rules.map((r) => path.resolve(r.sourceFolder))),
];

/** A file the watcher considers: a plain file directly in a source folder, not hidden (editors' temp files). */
function candidate(name: string): boolean {
  return !name.startsWith('.');
}

/**
 * Handles one settled file: the first active rule of its folder whose pattern matches the name imports it
 * (the runner moves it to the archive after the commit); a file no rule matches goes to `unmatched/`.
 */
export async function handleFile(
  file: string,
  rules: readonly ImportRule[],
  options: WatchOptions,
): Promise<WatchResult> {
  const dir = path.dirname(path.resolve(file));
  const name = path.basename(file);
  const rule = rules.find(
    (r) => path.resolve(r.sourceFolder) === dir && new RegExp(r.filePattern).test(name),
  );
  try {
    if (!rule) {
      const target = path.join(dir, UNMATCHED_FOLDER);
      await mkdir(target, { recursive: true });
      const movedTo = path.join(target, uniqueName(name, new Set(await readdir(target))));
      await rename(file, movedTo);
      options.logger.warn(`no active import rule matches ${name}: moved to ${movedTo}`, { file });
      return { kind: 'unmatched', file, movedTo };
    }
    options.logger.info(`importing ${name} under rule ${rule.name}`, { file });
    const result = await importFile({
      db: options.db,
      registry: options.registry,
      home: options.home,
      rule,
      file,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const dataset = result.datasetId ? ` (dataset ${result.datasetId}, ${result.datasetStatus})` : '';
    const line = `${name}: ${result.status} under rule ${rule.name}${dataset}, ${plural(result.rowsLoaded, 'row')}${result.reason ? `: ${result.reason}` : ''}`;
    if (result.status === 'failed') options.logger.error(`${line}; the file is left in place`);
    else if (result.status === 'rejected') options.logger.warn(`${line}; moved to rejected/`);
    else options.logger.info(line);
    return { kind: 'imported', file, result };
  } catch (error) {
    options.logger.error(`${name}: ${describeError(error)}; the file is left in place`, { file });
    return { kind: 'error', file, error: describeError(error) };
  }
}

interface Seen {
  size: number;
  mtimeMs: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

async function look(file: string): Promise<Seen | undefined> {
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() ? { size: info.size, mtimeMs: info.mtimeMs } : undefined;
}

/**
 * Waits until none of the files changed size or modification time for `ms`; returns those still there.
 * A file being copied in slowly is taken only once it is complete.
 */
async function settled(files: string[], ms: number, signal?: AbortSignal): Promise<string[]> {
  let before = new Map<string, Seen>();
  for (const f of files) {
    const seen = await look(f);
    if (seen) before.set(f, seen);
  }
  const stable: string[] = [];
  while (before.size > 0 && !signal?.aborted) {
    await sleep(ms, signal);
    const after = new Map<string, Seen>();
    for (const [f, was] of before) {
      const now = await look(f);
      if (!now) continue;
      if (now.size === was.size && now.mtimeMs === was.mtimeMs) stable.push(f);
      else after.set(f, now);
    }
    before = after;
  }
  return stable.sort();
}

/** `sluice watch --once`: every file now in the active rules' source folders, once settled. */
export async function watchOnce(options: WatchOptions): Promise<WatchResult[]> {
  const rules = await activeRules(options, new Set());
  const files: string[] = [];
  for (const dir of folders(rules)) {
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      options.logger.error(`cannot read source folder ${dir}: ${error.code ?? error.message}`);
      return [];
    });
    for (const e of entries) if (e.isFile() && candidate(e.name)) files.push(path.join(dir, e.name));
  }
  const results: WatchResult[] = [];
  for (const file of await settled(files, options.stabilityMs ?? DEFAULT_STABILITY_MS, options.signal)) {
    if (options.signal?.aborted) break;
    const result = await handleFile(file, rules, options);
    options.onResult?.(result);
    results.push(result);
  }
  return results;
}

export interface Watcher {
  /** Resolves once the folders are watched and the files already there are queued. */
  ready: Promise<void>;
  /** Stops watching; the file being imported finishes first. */
  close(): Promise<void>;
}

/**
 * `sluice watch`: watches the active rules' source folders (chokidar, one level deep) and handles each file
 * once it has settled, one at a time. Rules are read again every `refreshMs` and before each file; at the
 * same pace, files still in the folders (their import failed for a reason outside them) are tried again.
 */
export async function startWatcher(options: WatchOptions): Promise<Watcher> {
  const { watch } = await import('chokidar');
  const stabilityMs = options.stabilityMs ?? DEFAULT_STABILITY_MS;
  const warned = new Set<string>();
  let rules = await activeRules(options, warned);
  const watched = new Set(folders(rules));
  for (const dir of watched) await mkdir(dir, { recursive: true });
  const watcher = watch([...watched], {
    depth: 0,
    ignoreInitial: false,
    alwaysStat: true,
    ignored: (p: string) => !watched.has(p) && !candidate(path.basename(p)),
    // chokidar polls the size until it holds for stabilityThreshold; `settled` then also checks the mtime.
    awaitWriteFinish: { stabilityThreshold: stabilityMs, pollInterval: Math.min(100, stabilityMs) },
  });

  const queue: string[] = [];
  const queued = new Set<string>();
  let running: Promise<void> | undefined;
  let closed = false;
  const enqueue = (file: string) => {
    if (closed || queued.has(file) || !watched.has(path.dirname(file))) return;
    queued.add(file);
    queue.push(file);
    running ??= drain().finally(() => (running = undefined));
  };
  async function drain() {
    while (queue.length > 0 && !closed) {
      const file = queue.shift()!;
      try {
        const [ready] = await settled([file], stabilityMs, options.signal);
        if (!ready || closed) continue;
        rules = await activeRules(options, warned);
        const result = await handleFile(file, rules, options);
        options.onResult?.(result);
      } catch (error) {
        options.logger.error(`${path.basename(file)}: ${describeError(error)}`);
      } finally {
        queued.delete(file);
      }
    }
  }
  watcher.on('add', enqueue);
  watcher.on('change', enqueue);
  watcher.on('error', (error) => options.logger.error(`watching failed: ${describeError(error)}`));

  const refresh = setInterval(() => {
    void activeRules(options, warned)
      .then(async (next) => {
        rules = next;
        for (const dir of folders(next)) {
          if (watched.has(dir)) continue;
          await mkdir(dir, { recursive: true });
          watched.add(dir);
          watcher.add(dir);
          options.logger.info(`watching ${dir}`);
        }
        // A handled file leaves the folder (archive, rejected/, unmatched/): one still there failed for a
        // reason outside the file (database down, pipeline busy), so it is tried again now.
        for (const dir of watched) {
          for (const e of await readdir(dir, { withFileTypes: true }).catch(() => []))
            if (e.isFile() && candidate(e.name)) enqueue(path.join(dir, e.name));
        }
      })
      .catch((error: unknown) =>
        options.logger.error(`reading the import rules failed: ${describeError(error)}`),
      );
  }, options.refreshMs ?? DEFAULT_REFRESH_MS);

  // chokidar says 'ready' only once it watches something: with no folder yet there is nothing to wait for.
  const ready =
    watched.size === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  for (const dir of watched) options.logger.info(`watching ${dir}`);
  if (watched.size === 0)
    options.logger.info(
      `no active import rule: nothing to watch until one is added (\`sluice rules add\`; checked every ${formatDuration(options.refreshMs ?? DEFAULT_REFRESH_MS)})`,
    );
  return {
    ready,
    async close() {
      closed = true;
      clearInterval(refresh);
      await watcher.close();
      await running;
    },
  };
}
