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
   * Embedded only, for commands that run until stopped (`sluice serve`, `sluice watch`): while this process
   * holds the database, other Sluice processes of the user work through it (share-server.ts).
   */
  share?: boolean;
  /**
   * Embedded only: never work through another process that holds the database; fail with DATABASE_LOCKED
   * instead. For the service: two schedulers on one database would both fire.
   */
  own?: boolean;
}

/**
 * Opens the database (a server, or PGlite under `home` with its folder locked) and migrates it. When a
 * command that runs until stopped holds the embedded database, others work through it (share-server.ts):
 * `sluice runs` while `sluice serve` runs. A short command holding it does not share: a command working
 * through it would fail halfway when it exits, so the other is told to wait for it (DATABASE_LOCKED).
 */
export async function openStore(options: StoreOptions): Promise<Database> {
  if (options.databaseUrl) {
    const db = await openPostgres(options.databaseUrl, options);
    await migrate(db);
    return db;
  }
  let lock: FolderLock;
  try {
    lock = await lockFolder(options.home, { untilStopped: options.share ?? false });
  } catch (error) {
    const shared =
      !options.own && isSluiceError(error, 'DATABASE_LOCKED') && (await connectShare(options.home));
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
    // Sharing is a convenience: a socket that cannot be made (a read-only folder) leaves others locked out
    // as before, never the holder unable to start.
    const share = options.share
      ? await shareStore(db, options.home, commandName()).catch(() => undefined)
      : undefined;
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
