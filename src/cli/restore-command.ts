import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { requireReadableFile } from '../core/config-text.js';
import { SluiceError } from '../core/errors.js';
import { redactUrl } from '../core/sql.js';
import { restorePostgres } from '../runner/tasks/backup-task.js';
import { stopOnSignals } from '../runner/stop-signals.js';
import { openStore, sluiceHome, type StoreOptions } from '../store/connect.js';
import { restoreEmbeddedCopy } from '../store/embedded-backup.js';
import { closeRunsOfCopy } from '../store/runs.js';
import { EXIT } from './shared.js';

interface RestoreFlags {
  databaseUrl?: string;
  clean?: boolean;
  replace?: boolean;
}

export function registerRestore(program: Command, exit: (code: number) => void) {
  program
    .command('restore')
    .description(
      'Restore a backup: a .dump into a PostgreSQL database (pg_restore), a .tar.gz as the embedded database of SLUICE_HOME',
    )
    .argument('<file>', 'a backup made by `sluice backup` or a backup task')
    .option('--database-url <url>', 'the database a .dump goes into (default: DATABASE_URL)')
    .option('--clean', 'a .dump: drop the objects it holds before restoring them (into a database in use)')
    .option('--replace', 'a .tar.gz: restore over an embedded database that is there (it is kept aside)')
    .action(async (file: string, flags: RestoreFlags) => {
      if (/\.(tar\.gz|tgz)$/i.test(file)) {
        const home = sluiceHome();
        const restored = await restoreEmbeddedCopy(path.resolve(file), home, {
          replace: flags.replace ?? false,
        });
        if (restored.movedAside)
          process.stdout.write(`kept the database that was there in ${restored.movedAside}\n`);
        process.stdout.write(`restored ${file} as the embedded database in ${restored.dataDir}\n`);
        await closeCopiedRuns(file, { home });
        exit(EXIT.ok);
        return;
      }
      const url = flags.databaseUrl ?? process.env.DATABASE_URL;
      if (!url)
        throw new SluiceError('CONFIG_INVALID', `no database to restore ${file} into`, {
          hint: 'Set DATABASE_URL (or --database-url) to the PostgreSQL database to restore into: a new, empty one is safest.',
        });
      await requireReadableFile(path.resolve(file)); // our error, not pg_restore's
      const stop = stopOnSignals();
      try {
        await restorePostgres(path.resolve(file), url, { clean: flags.clean ?? false }, stop.signal);
      } finally {
        stop.dispose();
      }
      process.stdout.write(`restored ${file} into ${redactUrl(url)}\n`);
      await closeCopiedRuns(file, { home: sluiceHome(), databaseUrl: url });
      exit(EXIT.ok);
    });
}

/**
 * Opens the restored database as every command does (migrated, an embedded one under its lock) and closes
 * the runs its copy holds as running: the backup's own run at least was running when the copy was made.
 */
async function closeCopiedRuns(file: string, store: StoreOptions): Promise<void> {
  const db = await openStore(store);
  try {
    const closed = await closeRunsOfCopy(db, (await stat(file)).mtime, path.basename(file));
    if (closed > 0) {
      process.stdout.write(
        closed === 1
          ? 'closed 1 run the copy holds as running (the copy was taken while it ran)\n'
          : `closed ${closed} runs the copy holds as running (the copy was taken while they ran)\n`,
      );
    }
  } finally {
    await db.close();
  }
}
