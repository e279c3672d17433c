import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A lock across processes (test files run in parallel forks): a directory made atomically. */
export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(os.tmpdir(), `${name}.lock`);
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (age > 240_000) await rmdir(lock).catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

/** What a failed command wrote to stderr, or the error itself. */
export function stderrOf(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  return typeof stderr === 'string' && stderr ? stderr.trim() : String(error);
}

/**
 * Installs Debian packages for a test server unless `binary` is already there (needs root), one install at
 * a time across test files. The packages' own services are not started: without systemd their postinst
 * would start a system server through invoke-rc.d, which a policy-rc.d answering 101 forbids.
 */
export async function ensureDebianPackages(packages: readonly string[], binary: string): Promise<void> {
  if (existsSync(binary)) return;
  const shown = `apt-get install -y ${packages.join(' ')}`;
  if (process.getuid?.() !== 0) throw new Error(`${binary} is missing: run the tests as root, or ${shown}`);
  await withLock('sluice-test-apt', async () => {
    if (existsSync(binary)) return; // another test file installed it meanwhile
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const policy = '/usr/sbin/policy-rc.d';
    const ownPolicy = !existsSync(policy);
    if (ownPolicy) await writeFile(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      await run('apt-get', ['update'], { env, maxBuffer: 64 * 1024 * 1024 });
      await run(
        'apt-get',
        ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=120', ...packages],
        { env, maxBuffer: 64 * 1024 * 1024 },
      );
    } catch (error) {
      throw new Error(`installing failed (${shown}): ${stderrOf(error)}`);
    } finally {
      if (ownPolicy) await rm(policy, { force: true });
    }
  });
  if (!existsSync(binary)) throw new Error(`${packages.join(' ')} installed but ${binary} is missing`);
}
