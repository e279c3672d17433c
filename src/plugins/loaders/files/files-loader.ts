import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { SluiceError } from '../../../core/errors.js';
import { pathOption } from '../../../core/path-option.js';
import { defineLoader } from '../../../core/plugin.js';
import { createExportSession, exportFileFields, partialName, type ExportTarget } from '../export-file.js';

const options = z.strictObject({
  dir: pathOption().describe(
    'The folder the file goes into (created when missing); a relative path is read from the pipeline file’s folder.',
  ),
  ...exportFileFields,
});

/** A folder on this machine as an export's destination: the file is copied in under a hidden name, then renamed. */
function folderTarget(dir: string): ExportTarget {
  return {
    destination: dir,
    async deliver(localFile, name) {
      const partial = path.join(dir, partialName(name));
      try {
        await mkdir(dir, { recursive: true });
        await copyFile(localFile, partial);
        await rename(partial, path.join(dir, name));
      } catch (error) {
        await rm(partial, { force: true });
        throw new SluiceError(
          'LOAD_FAILED',
          `writing ${name} into ${dir} failed: ${(error as Error).message}`,
          {
            cause: error,
            where: 'load.dir',
          },
        );
      }
    },
  };
}

/** Rows into one file of a local folder: CSV, JSON lines, Parquet or XLSX, named by the run's date. */
export const filesLoader = defineLoader({
  name: 'files',
  summary:
    'One file per run (or per as-of date) in a local folder: CSV, JSON lines, Parquet or XLSX, complete or absent, never written twice.',
  options,
  capabilities: { modes: ['replace'], transactional: true, maxIdentifierLength: 1024 },
  writeMode: () => 'replace',
  async open(opts, context) {
    return createExportSession(opts, context, folderTarget(opts.dir));
  },
});
