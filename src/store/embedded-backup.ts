import { openAsBlob } from 'node:fs';
import { readdir, rename } from 'node:fs/promises';
import { requireReadableFile, unreadableFile } from '../core/config-text.js';
import path from 'node:path';
import { SluiceError } from '../core/errors.js';
import { createPglite } from './embedded-pglite.js';
import { lockFolder } from './pglite-lock.js';

/** Whether a folder holds anything (a missing folder holds nothing). */
async function holdsFiles(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => [] as string[])).length > 0;
}

/** The copy as a blob read from disk when PGlite loads it (openAsBlob throws at once, not in its promise). */
async function readCopy(file: string): Promise<Blob> {
  await requireReadableFile(file);
  try {
    return await openAsBlob(file);
  } catch (error) {
    throw unreadableFile(file, error);
  }
}

/**
 * Restores a copy made by the embedded database's backup (a gzipped tar of its data folder) as the
 * embedded database of `home`, holding the folder's lock so that no Sluice process uses it meanwhile. A
 * database already there is refused unless `replace`, which keeps it beside as `pgdata.before-restore-…`.
 * Returns the folder the old database was moved to, if any.
 */
export async function restoreEmbeddedCopy(
  file: string,
  home: string,
  options: { replace?: boolean } = {},
): Promise<{ dataDir: string; movedAside?: string }> {
  const blob = await readCopy(file);
  const lock = await lockFolder(home);
  try {
    const dataDir = path.join(home, 'pgdata');
    let movedAside: string | undefined;
    if (await holdsFiles(dataDir)) {
      if (!options.replace)
        throw new SluiceError('CONFIG_INVALID', `${home} already holds an embedded database`, {
          hint: 'Restore into an empty SLUICE_HOME, or add --replace to keep the current one aside and restore over it.',
        });
      movedAside = `${dataDir}.before-restore-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
      await rename(dataDir, movedAside);
    }
    let db;
    try {
      db = await createPglite(dataDir, { loadDataDir: blob });
      await db.query('SELECT 1');
    } catch (error) {
      throw new SluiceError(
        'PARSE_FAILED',
        `not a copy of an embedded Sluice database: ${(error as Error).message}`,
        {
          where: file,
          cause: error,
        },
      );
    } finally {
      await db?.close();
    }
    return { dataDir, ...(movedAside ? { movedAside } : {}) };
  } finally {
    await lock.release();
  }
}
