import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';

export interface PostgresServer {
  /** A superuser URL to the `postgres` database. */
  adminUrl: string;
  stop(): Promise<void>;
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions)
    if (existsSync(path.join(root, v, 'bin', 'initdb'))) return path.join(root, v, 'bin');
  return undefined;
}

/**
 * A PostgreSQL server for the tests: SLUICE_TEST_DATABASE_URL, else the one on 127.0.0.1:5432, else a
 * private cluster started here (installed from Debian's packages when missing).
 */
export async function ensurePostgres(): Promise<PostgresServer> {
  const candidates = [
    process.env.SLUICE_TEST_DATABASE_URL,
    'postgres://postgres@127.0.0.1:5432/postgres',
  ].filter((u): u is string => !!u);
  for (const url of candidates) if (await reachable(url)) return { adminUrl: url, stop: async () => {} };

  let bin = binDir();
  if (!bin) {
    if (process.getuid?.() !== 0)
      throw new Error(
        'PostgreSQL is not installed: install the postgresql package, or set SLUICE_TEST_DATABASE_URL',
      );
    execFileSync(
      'bash',
      ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql'],
      { stdio: 'inherit' },
    );
    bin = binDir();
    if (!bin) throw new Error('installing postgresql gave no initdb');
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-pg-'));
  chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asPostgres = (cmd: string) =>
    process.getuid?.() === 0
      ? (['su', ['postgres', '-s', '/bin/bash', '-c', cmd]] as const)
      : (['bash', ['-c', cmd]] as const);
  const [initCmd, initArgs] = asPostgres(`${bin}/initdb -D ${data} -U postgres --auth=trust >/dev/null`);
  execFileSync(initCmd, initArgs, { stdio: 'inherit' });
  const [startCmd, startArgs] = asPostgres(
    `${bin}/pg_ctl -D ${data} -l ${dir}/log -o "-p ${port} -c listen_addresses=127.0.0.1 -k ${dir}" -w start >/dev/null`,
  );
  execFileSync(startCmd, startArgs, { stdio: 'inherit' });
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    adminUrl,
    async stop() {
      const [stopCmd, stopArgs] = asPostgres(`${bin}/pg_ctl -D ${data} -m fast -w stop >/dev/null`);
      await new Promise((resolve) => spawn(stopCmd, stopArgs, { stdio: 'ignore' }).on('exit', resolve));
    },
  };
}
