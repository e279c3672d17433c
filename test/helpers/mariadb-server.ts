import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './free-port.js';
import { kill } from './server-process.js';

export interface MariadbServer {
  /** A URL with every right, to no database: `mysql://root@host:port/`. */
  adminUrl: string;
  stop(): Promise<void>;
}

async function reachable(url: string): Promise<boolean> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
    await conn.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

const SERVER_BINARIES = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'];
const serverBinary = () => SERVER_BINARIES.find((b) => existsSync(b));

/**
 * A MariaDB (or MySQL) server for the tests: SLUICE_TEST_MYSQL_URL, else the one on 127.0.0.1:3306 (root, no
 * password), else a private server started here (installed from Debian's packages when missing).
 */
export async function ensureMariadb(): Promise<MariadbServer> {
  const candidates = [process.env.SLUICE_TEST_MYSQL_URL, 'mysql://root@127.0.0.1:3306/'].filter(
    (u): u is string => !!u,
  );
  for (const url of candidates) if (await reachable(url)) return { adminUrl: url, stop: async () => {} };
  return startPrivateMariadb();
}

/** A private server in a temporary folder, on a free loopback port, without grant tables (tests only). */
export async function startPrivateMariadb(): Promise<MariadbServer> {
  let bin = serverBinary();
  if (!bin) {
    if (process.getuid?.() !== 0)
      throw new Error('MariaDB is not installed: install mariadb-server, or set SLUICE_TEST_MYSQL_URL');
    execFileSync(
      'bash',
      [
        '-c',
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client',
      ],
      { stdio: 'inherit' },
    );
    bin = serverBinary();
    if (!bin) throw new Error('installing mariadb-server gave no mariadbd');
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-mariadb-'));
  const data = path.join(dir, 'data');
  // mariadbd refuses to run as root unless told to.
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  execFileSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${data}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...user,
    ],
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const child = spawn(
    bin,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${path.join(dir, 'mysqld.sock')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${path.join(dir, 'mysqld.pid')}`,
      `--log-error=${path.join(dir, 'error.log')}`,
      '--skip-grant-tables', // any user, no password: a throwaway server on loopback
      '--local-infile=1',
      ...user,
    ],
    { detached: true, stdio: 'ignore' },
  );
  const adminUrl = `mysql://root@127.0.0.1:${port}/`;
  const stop = async () => {
    await kill(child);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await reachable(adminUrl)) return { adminUrl, stop };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`a private MariaDB on 127.0.0.1:${port} did not start (log: ${dir}/error.log)`);
}
