import path from 'node:path';
import { openPglite, openPostgres, type ConnectionOptions, type Database } from './database.js';
import { lockFolder } from './pglite-lock.js';
import { migrate } from './migrate.js';

export interface StoreOptions extends ConnectionOptions {
  /** A PostgreSQL URL; without one the embedded database in `home` is used. */
  databaseUrl?: string;
  /** Sluice's own folder (`.sluice/`): embedded data, fallback logs, scratch space. */
  home: string;
}

/** Opens the database (a server, or PGlite under `home` with its folder locked) and migrates it. */
export async function openStore(options: StoreOptions): Promise<Database> {
  if (options.databaseUrl) {
    const db = await openPostgres(options.databaseUrl, options);
    await migrate(db);
    return db;
  }
  const dataDir = path.join(options.home, 'pgdata');
  const lock = await lockFolder(options.home);
  try {
    const db = await openPglite(dataDir, options);
    await migrate(db);
    const close = db.close.bind(db);
    return Object.assign(db, {
      async close() {
        try {
          await close();
        } finally {
          await lock.release();
        }
      },
    });
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** `SLUICE_HOME`, or `.sluice` in the working folder. */
export function sluiceHome(env: Record<string, string | undefined> = process.env): string {
  return path.resolve(env.SLUICE_HOME || '.sluice');
}
