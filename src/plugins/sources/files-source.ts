import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import picomatch from 'picomatch';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineSource, type FileOutcome, type SourceFile } from '../../core/plugin.js';
import { uniqueName } from '../../core/file-names.js';
import {
  decodeFileName,
  LeftOut,
  listedFiles,
  sameObservation,
  stabilityOptions,
  takeStable,
  type Candidate,
  type Observed,
} from './file-listing.js';
import { pathOption } from '../../core/path-option.js';
import { settleOptions } from './settle.js';

const options = z.strictObject({
  url: pathOption().describe(
    "The folder: a path (relative to the pipeline file's folder), or a file:// URL.",
  ),
  glob: z
    .string()
    .default('*')
    .describe('Which file names to take, as a glob on the base name (report_*.txt).'),
  ...stabilityOptions,
  ...settleOptions,
});

const observe = (info: Stats): Observed => ({ size: info.size, modifiedMs: info.mtimeMs });

/**
 * Files in a local folder. Names are read as bytes: a name that is not valid UTF-8 is loaded like any other
 * (shown with `%XX` for its odd bytes). A symbolic link to a file is followed; every entry not taken is said.
 */
export const filesSource = defineSource({
  name: 'files',
  summary: 'Files in a local folder matching a glob, taken once they are complete.',
  schemes: ['file'],
  options,
  async open(opts, context) {
    const dir = path.resolve(opts.url.startsWith('file://') ? fileURLToPath(opts.url) : opts.url);
    const isMatch = picomatch(opts.glob, { dot: false });
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    } catch (error) {
      throw new SluiceError('SOURCE_UNREACHABLE', `the source folder ${dir} cannot be read`, {
        cause: error,
        hint: 'Check the path in source.url, or create the folder.',
      });
    }
    const { logger } = context;
    /** The bytes of the names that are not valid UTF-8, by id (their id shows them with `%XX`). */
    const rawNames = new Map<string, Buffer>();
    /** What each file was when it was listed, then fetched: it is deleted or moved only if it still is. */
    const seen = new Map<string, Observed>();
    const fsPath = (id: string): string | Buffer => {
      const raw = rawNames.get(id);
      return raw ? Buffer.concat([Buffer.from(dir + path.sep), raw]) : id;
    };

    /** Moves the file into `folder` (made when missing) under a name not taken there; returns that name. */
    async function moveWithin(file: SourceFile, folder: string): Promise<string> {
      const target = path.resolve(dir, folder);
      await mkdir(target, { recursive: true });
      const raw = rawNames.get(file.id);
      const taken = new Set(await readdir(target));
      if (raw) {
        const rawTarget = Buffer.concat([Buffer.from(target + path.sep), raw]);
        const same = await lstat(rawTarget).catch(() => undefined);
        const name = same ? uniqueName(file.name, taken) : file.name;
        await rename(fsPath(file.id), same ? path.join(target, name) : rawTarget);
        return path.join(target, name);
      }
      const destination = path.join(target, uniqueName(file.name, taken));
      await rename(file.id, destination);
      return destination;
    }

    return {
      location: dir,
      async *list() {
        const entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
        const leftOut = new LeftOut();
        const candidates: Candidate<string>[] = [];
        const ids = new Set<string>();
        const named = entries
          .map((entry) => ({ entry, ...decodeFileName(entry.name) }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        rawNames.clear();
        for (const { entry, name, valid } of named) {
          const full = Buffer.concat([Buffer.from(dir + path.sep), entry.name]);
          if (entry.isDirectory()) {
            leftOut.add('folder', name);
            continue;
          }
          if (!isMatch(name)) {
            leftOut.add('glob', name);
            continue;
          }
          let info: Stats | undefined;
          if (entry.isSymbolicLink()) {
            const target = await readlink(full).catch(() => '?');
            info = await stat(full).catch(() => undefined);
            if (!info) {
              logger.warn(`${name} is a symbolic link to ${target}, which does not exist: not loaded`);
              continue;
            }
            if (info.isDirectory()) {
              leftOut.add('folder', name);
              continue;
            }
            if (!info.isFile()) {
              logger.warn(`${name} is a symbolic link to ${target}, which is not a regular file: not loaded`);
              continue;
            }
            logger.info(
              `${name} is a symbolic link: the file it points to (${target}) is read; a delete or move acts on the link`,
            );
          } else if (!entry.isFile()) {
            logger.warn(`${name} is not a regular file (a pipe, socket or device): not loaded`);
            continue;
          } else {
            info = await stat(full).catch(() => undefined);
            if (!info) {
              logger.info(`${name} is gone since the listing`);
              continue;
            }
          }
          const id = path.join(dir, name);
          if (ids.has(id)) {
            logger.warn(`${name}: two names in the folder read the same; this one is not loaded (rename it)`);
            continue;
          }
          if (!valid) {
            rawNames.set(id, entry.name);
            logger.info(
              `${name}: the name is not valid UTF-8; it is shown with %XX for the bytes that cannot be read`,
            );
          }
          ids.add(id);
          candidates.push({ name, observed: observe(info), handle: id });
        }
        leftOut.log(logger, dir);
        const taken = await takeStable(candidates, {
          stableForMs: opts.stableFor,
          minAgeMs: opts.minAge,
          restat: async (c) => {
            const info = await stat(fsPath(c.handle)).catch(() => undefined);
            return info?.isFile() ? observe(info) : undefined;
          },
          logger,
          signal: context.signal,
        });
        yield* listedFiles(taken, seen);
      },
      async fetch(file) {
        let info: Stats;
        try {
          info = await stat(fsPath(file.id));
        } catch (error) {
          throw new SluiceError('SOURCE_IO', `${file.name} is no longer in ${dir}`, {
            cause: error,
            where: file.id,
          });
        }
        seen.set(file.id, observe(info));
        if (!rawNames.has(file.id)) return { path: file.id, size: info.size, temporary: false };
        // The runner opens files by a text path, which cannot spell these bytes: give it a link to the file.
        const link = path.join(
          context.workDir,
          `${randomUUID()}-${path.basename(file.id).replace(/%/g, '_')}`,
        );
        await symlink(fsPath(file.id), link);
        return { path: link, size: info.size, temporary: true };
      },
      async settle(file: SourceFile, outcome: FileOutcome) {
        const action = outcome === 'rejected' ? opts.onReject : opts.onLoad;
        const folder = outcome === 'rejected' ? opts.rejectedDir : opts.processedDir;
        if (action === 'keep') return;
        const now = await stat(fsPath(file.id)).catch(() => undefined);
        if (!now) return `no longer in the folder: nothing to ${action}`;
        const before = seen.get(file.id);
        if (before && !sameObservation(observe(now), before)) {
          logger.warn(
            `${file.name} changed in the folder after it was read (${before.size} → ${now.size} bytes): ` +
              `not ${action === 'delete' ? 'deleted' : 'moved'}; the next run reads it again`,
          );
          return undefined;
        }
        if (action === 'delete') {
          await rm(fsPath(file.id), { force: true });
          return 'deleted at the source';
        }
        return `moved to ${path.relative(dir, await moveWithin(file, folder))}`;
      },
      async close() {},
    };
  },
});
