import path from 'node:path';
import { openPglite, openPostgres, type ConnectionOptions, type Database } from './database.js';
import { isSluiceError } from '../core/errors.js';
import { commandName, lockFolder, type FolderLock } from './pglite-lock.js';
import { migrate } from './migrate.js';
import { connectShare } from './share-client.js';
import { shareStore } from './share-server.js';

export interface StoreOptions extends ConnectionOptions {
  /** A PostgreSQL URL; without one the embedded database in `home` is used. */
  databaseUrl?: string;
  /** Sluice's own folder (`.sluice/`): embedded data, fallback logs, scratch space. */
  home: string;
  /**
   * The long-running service (embedded database only): it lets other Sluice processes of this user work
   * through it while it holds the database, and never works through another holder itself (two schedulers
   * on one database would both fire): it fails with DATABASE_LOCKED instead.
   */
  service?: boolean;
}

/**
 * Opens the database (a server, or PGlite under `home` with its folder locked) and migrates it. When a
 * service holds the embedded database, commands work through it (share-server.ts): `sluice runs` while
 * `sluice serve` runs. A short command holding it does not share: a command working through it would
 * fail halfway when it exits, so the other is told to wait for it (DATABASE_LOCKED) instead.
 */
export async function openStore(options: StoreOptions): Promise<Database> {
  if (options.databaseUrl) {
    const db = await openPostgres(options.databaseUrl, options);
    await migrate(db);
    return db;
  }
  let lock: FolderLock;
  try {
    lock = await lockFolder(options.home);
  } catch (error) {
    const shared =
      !options.service && isSluiceError(error, 'DATABASE_LOCKED') && (await connectShare(options.home));
    if (!shared) throw error;
    // As on a server: a newer Sluice brings the schema up to date for the older one that holds it.
    await migrate(shared).catch(async (failure: unknown) => {
      await shared.close();
      throw failure;
    });
    return shared;
  }
  let db: Database | undefined;
  try {
    db = await openPglite(path.join(options.home, 'pgdata'), options);
    await migrate(db);
    const share = options.service ? await shareStore(db, options.home, commandName()) : undefined;
    const close = db.close.bind(db);
    return Object.assign(db, {
      async close() {
        try {
          await share?.close();
          await close();
        } finally {
          await lock.release();
        }
      },
    });
  } catch (error) {
    await db?.close().catch(() => undefined);
    await lock.release();
    throw error;
  }
}

/** `SLUICE_HOME`, or `.sluice` in the working folder. */
export function sluiceHome(env: Record<string, string | undefined> = process.env): string {
  return path.resolve(env.SLUICE_HOME || '.sluice');
}
