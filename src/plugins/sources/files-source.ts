import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import picomatch from 'picomatch';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineSource, type FileOutcome, type SourceFile } from '../../core/plugin.js';
import { uniqueName } from '../../core/file-names.js';
import { settleOptions } from './settle.js';

const options = z.strictObject({
  url: z.string().min(1).describe('The folder: a path, or a file:// URL.'),
  glob: z
    .string()
    .default('*')
    .describe('Which file names to take, as a glob on the base name (report_*.txt).'),
  ...settleOptions,
});

/** Files in a local folder. */
export const filesSource = defineSource({
  name: 'files',
  summary: 'Files in a local folder matching a glob.',
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

    async function moveWithin(file: SourceFile, folder: string) {
      const target = path.resolve(dir, folder);
      await mkdir(target, { recursive: true });
      const taken = new Set(await readdir(target));
      await rename(file.id, path.join(target, uniqueName(file.name, taken)));
    }

    return {
      location: dir,
      async *list() {
        const entries = await readdir(dir, { withFileTypes: true });
        const names = entries
          .filter((e) => e.isFile() && isMatch(e.name))
          .map((e) => e.name)
          .sort();
        for (const name of names) {
          const full = path.join(dir, name);
          const info = await stat(full).catch(() => undefined);
          if (!info) continue; // gone since the listing
          yield { id: full, name, size: info.size, modifiedAt: info.mtime };
        }
      },
      async fetch(file) {
        const info = await stat(file.id);
        return { path: file.id, size: info.size, temporary: false };
      },
      async settle(file: SourceFile, outcome: FileOutcome) {
        const action = outcome === 'rejected' ? opts.onReject : opts.onLoad;
        const folder = outcome === 'rejected' ? opts.rejectedDir : opts.processedDir;
        if (action === 'keep') return;
        if (action === 'delete') await rm(file.id, { force: true });
        else await moveWithin(file, folder);
        context.logger.debug(`${action} ${file.name} at the source`, { outcome });
      },
      async close() {},
    };
  },
});
