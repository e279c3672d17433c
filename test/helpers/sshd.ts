/**
 * A real OpenSSH sftp server on loopback for integration tests: a private sshd with its own host key,
 * config and port, logging in a dedicated local user by password or key. Needs root (it creates the user
 * and reads /etc/shadow through sshd); installs openssh-server when it is missing.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureDebianPackages, stderrOf, withLock } from './debian-packages.js';
import { freePort } from './free-port.js';
import { kill, launchServer } from './server-process.js';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';
const USER = 'sluicetest';
/**
 * Every test file starts its own server in parallel, all logging in the one user, so they share one
 * password: random, made once per machine and kept where only root can read it (a fixed password in the
 * source would open the account to anyone on a machine that also runs a system sshd).
 */
const PASSWORD_FILE = '/var/lib/sluice-test/sftp-password';

export interface SftpServer {
  host: '127.0.0.1';
  port: number;
  username: string;
  password: string;
  /** The client's private key (OpenSSH format, no passphrase), authorized for the user. */
  privateKeyPath: string;
  /** The server's (first) host key as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** Every host key of the server by type (`ed25519`, `ecdsa`, `rsa`), as `ssh-keygen -lf` prints them. */
  hostKeyFingerprints: Partial<Record<HostKeyType, string>>;
  /** A folder on this machine the sftp user can read and write; tests put files here. */
  root: string;
  /** `sftp://user@127.0.0.1:port/path`, for `path` (default: root; relative paths are under root). */
  url(remotePath?: string): string;
  stop(): Promise<void>;
}

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

/** Starts a private sshd (with one ed25519 host key unless told otherwise); call `stop()` when done. */
export async function startSftpServer(options: { hostKeyTypes?: HostKeyType[] } = {}): Promise<SftpServer> {
  const hostKeyTypes = options.hostKeyTypes ?? ['ed25519'];
  if (process.platform !== 'linux') throw new Error('startSftpServer runs OpenSSH on Linux only');
  if (process.getuid?.() !== 0) {
    throw new Error(
      'startSftpServer needs root: it creates the test user and sshd reads /etc/shadow for password logins. ' +
        'Run the integration tests as root (with openssh-server installed: apt-get install -y openssh-server).',
    );
  }
  await ensureDebianPackages(['openssh-server'], SSHD);
  const { uid, gid, password } = await ensureUser();

  // Under /tmp rather than $TMPDIR: the sftp user must be able to walk down to the folders it serves.
  const dir = await mkdtemp(path.join(existsSync('/tmp') ? '/tmp' : os.tmpdir(), 'sluice-sshd-'));
  try {
    // mkdtemp makes it 0700; sshd reads authorized_keys as the user, who must get through it.
    await chmod(dir, 0o755);
    const root = path.join(dir, 'root');
    await mkdir(root);
    await chown(root, uid, gid);
    await chmod(root, 0o777);

    const hostKeys = hostKeyTypes.map((type) => path.join(dir, `ssh_host_${type}_key`));
    const clientKey = path.join(dir, 'client_ed25519_key');
    for (const [i, type] of hostKeyTypes.entries())
      await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'sluice-test-host', '-f', hostKeys[i]!]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sluice-test-client', '-f', clientKey]);
    const authorizedKeys = path.join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`));
    await chmod(authorizedKeys, 0o644);
    const hostKeyFingerprints: Partial<Record<HostKeyType, string>> = {};
    for (const [i, type] of hostKeyTypes.entries()) {
      const { stdout } = await run('ssh-keygen', ['-lf', `${hostKeys[i]!}.pub`]);
      const fingerprint = stdout.split(/\s+/)[1] ?? '';
      if (!fingerprint.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
      hostKeyFingerprints[type] = fingerprint;
    }
    const hostKeyFingerprint = hostKeyFingerprints[hostKeyTypes[0]!]!;

    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const config = path.join(dir, 'sshd_config');
    const log = path.join(dir, 'sshd.log');

    let lastError: unknown;
    for (let attempt = 1; attempt <= 4; attempt++) {
      const port = await freePort();
      await writeConfig(config, { dir, port, hostKeys, authorizedKeys });
      try {
        const child = await launch(config, log, port);
        return {
          host: '127.0.0.1',
          port,
          username: USER,
          password,
          privateKeyPath: clientKey,
          hostKeyFingerprint,
          hostKeyFingerprints,
          root,
          url(remotePath = root) {
            const absolute = path.isAbsolute(remotePath) ? remotePath : path.join(root, remotePath);
            return `sftp://${USER}@127.0.0.1:${port}${absolute}`;
          },
          async stop() {
            await kill(child);
            await rm(dir, { recursive: true, force: true });
          },
        };
      } catch (error) {
        lastError = error;
        // Another process took the port between our probe and sshd's bind: try another.
        if (!/Address already in use|Cannot bind/i.test(String(error))) break;
      }
    }
    throw lastError;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

// ---- sshd ------------------------------------------------------------------------------------------

async function writeConfig(
  file: string,
  o: { dir: string; port: number; hostKeys: string[]; authorizedKeys: string },
) {
  const lines = [
    `Port ${o.port}`,
    'ListenAddress 127.0.0.1',
    ...o.hostKeys.map((key) => `HostKey ${key}`),
    `PidFile ${path.join(o.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    'PubkeyAuthentication yes',
    // With UsePAM no, sshd checks passwords against /etc/shadow itself.
    'PasswordAuthentication yes',
    'PermitEmptyPasswords no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // Temp folders are world-writable, which StrictModes would refuse.
    'StrictModes no',
    `AllowUsers ${USER}`,
    'PermitRootLogin no',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'PrintMotd no',
    // Parallel tests open many connections at once; the default (10:30:100) drops some at random.
    'MaxStartups 200',
    'MaxAuthTries 10',
    'LoginGraceTime 30',
    'LogLevel VERBOSE',
    'Subsystem sftp internal-sftp',
  ];
  // OpenSSH 9.8+ penalizes addresses with failed logins (tests fail logins on purpose); older ones do
  // not know the option and refuse the whole config, so it is added only where sshd accepts it.
  const withPenalties = [...lines, 'PerSourcePenalties no'];
  await writeFile(file, `${withPenalties.join('\n')}\n`);
  try {
    await run(SSHD, ['-t', '-f', file]);
  } catch (error) {
    await writeFile(file, `${lines.join('\n')}\n`);
    try {
      await run(SSHD, ['-t', '-f', file]);
    } catch {
      throw new Error(`sshd refuses the test config ${file}: ${stderrOf(error)}`);
    }
  }
}

/** Spawns `sshd -D` and waits until it answers with an SSH banner. */
function launch(config: string, log: string, port: number): Promise<ChildProcess> {
  return launchServer({
    name: 'sshd',
    command: SSHD,
    args: ['-D', '-f', config, '-E', log],
    port,
    greeting: 'SSH-',
    log,
  });
}

// ---- machine setup ---------------------------------------------------------------------------------

/** The test user (created when absent) with the machine's test password. */
async function ensureUser(): Promise<{ uid: number; gid: number; password: string }> {
  return withLock('sluice-test-user', async () => {
    let ids = await userIds();
    if (!ids) {
      await retry(async () => {
        if (await userIds()) return; // created by someone else since
        await run('useradd', [
          '--no-create-home',
          '--home-dir',
          '/nonexistent',
          '--shell',
          '/usr/sbin/nologin',
          USER,
        ]).catch(async (error: unknown) => {
          // 9: the name is taken, which is what we wanted.
          if ((error as { code?: unknown }).code === 9 && (await userIds())) return;
          throw error;
        });
      });
      ids = await userIds();
      if (!ids) throw new Error(`useradd ${USER} did not create the user`);
    }
    let password = (await readFile(PASSWORD_FILE, 'utf8').catch(() => '')).trim();
    if (!password) {
      password = randomBytes(18).toString('base64url');
      await mkdir(path.dirname(PASSWORD_FILE), { recursive: true, mode: 0o700 });
      await writeFile(PASSWORD_FILE, `${password}\n`, { mode: 0o600 });
    }
    // Set every time (the same value, so a server already running is not disturbed): the user may be new.
    await retry(() => runWithInput('chpasswd', [], `${USER}:${password}\n`));
    return { ...ids, password };
  });
}

async function userIds(): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const { stdout: uid } = await run('id', ['-u', USER]);
    const { stdout: gid } = await run('id', ['-g', USER]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    return undefined;
  }
}

/** useradd and chpasswd fail with "cannot lock /etc/passwd" while another tool holds it. */
async function retry<T>(fn: () => Promise<T>, attempts = 10): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await fn();
    } catch (error) {
      if (n >= attempts) throw new Error(`${String(error)}\n${stderrOf(error)}`);
      await sleep(100 * n);
    }
  }
}

/** execFile does not take stdin input; chpasswd reads `user:password` lines from it. */
function runWithInput(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(Object.assign(new Error(`${command} exited with ${code}`), { code, stderr }));
    });
    child.stdin.end(input);
  });
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
