import { mkdir, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SluiceError } from '../core/errors.js';
import { isProcessAlive } from './process-alive.js';

export interface FolderLock {
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
  since: string;
  /** `sluice serve`: what holds it (absent in locks of older versions). */
  command?: string;
  /** It holds the folder until stopped (a service, a watcher), not until its work is done. */
  untilStopped?: boolean;
}

/**
 * Takes the lock file of an embedded data folder. PGlite does not guard its folder: two processes that
 * open it silently lose writes. A lock whose process is gone (same host) is taken over.
 */
export async function lockFolder(dir: string, options: { untilStopped?: boolean } = {}): Promise<FolderLock> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'sluice.lock');
  const me: Holder = {
    pid: process.pid,
    host: os.hostname(),
    since: new Date().toISOString(),
    command: commandName(),
    ...(options.untilStopped ? { untilStopped: true } : {}),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      return {
        async release() {
          await rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(file);
    if (holder && holder.host === me.host && !isProcessAlive(holder.pid)) {
      await rm(file, { force: true }); // a crashed process left it
      continue;
    }
    if (!holder) {
      // Being written by its new owner right now, or empty after a crash: look again shortly.
      await new Promise((r) => setTimeout(r, 100));
      const again = await readHolder(file);
      if (!again) await rm(file, { force: true });
      continue;
    }
    const what = holder.command ? ` (${holder.command})` : '';
    throw new SluiceError(
      'DATABASE_LOCKED',
      `the embedded database in ${dir} is in use by process ${holder.pid}${what} on ${holder.host} since ${holder.since}`,
      {
        hint: holder.untilStopped
          ? `\`${holder.command ?? 'sluice'}\` holds it until it is stopped: stop it first (Ctrl-C or SIGTERM), or set DATABASE_URL to a PostgreSQL server so that several processes can work at once.`
          : 'Wait for that command to finish, or set DATABASE_URL to a PostgreSQL server so that several processes can work at once.',
      },
    );
  }
  throw new SluiceError('DATABASE_LOCKED', `could not take the lock ${file}`);
}

async function readHolder(file: string): Promise<Holder | undefined> {
  try {
    const holder = JSON.parse(await readFile(file, 'utf8')) as Holder;
    return typeof holder.pid === 'number' ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** `sluice serve`: what this process is, for others (not its arguments: they may hold secrets). */
export function commandName(): string {
  const sub = process.argv[2];
  return sub && /^[a-z][a-z-]*$/.test(sub) ? `sluice ${sub}` : 'sluice';
}
