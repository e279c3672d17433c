import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';

/** Servers started by the tests, each in its own process group. */
const running = new Set<ChildProcess>();

/** Tracks a server so that it dies with the test process even without a stop(). */
function track(child: ChildProcess): void {
  running.add(child);
}

/** True when something on the port greets a new connection with a line starting with `prefix`. */
function greets(port: number, prefix: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (data.includes('\n')) done(data.startsWith(prefix));
    });
    socket.on('end', () => done(false));
  });
}

/** Stops a server and every process of its group (sessions of open connections may outlive it). */
export async function kill(child: ChildProcess): Promise<void> {
  running.delete(child);
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  signalGroup(child, 'SIGKILL');
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

// A test process that dies without stop() must not leave servers listening.
process.once('exit', () => {
  for (const child of running) signalGroup(child, 'SIGKILL');
});

/**
 * Spawns a server in its own process group (so stopping it ends its per-connection children too) and
 * waits until the port greets with `greeting`; on failure, throws with the server's log and stderr.
 */
export async function launchServer(options: {
  name: string;
  command: string;
  args: string[];
  port: number;
  greeting: string;
  log: string;
}): Promise<ChildProcess> {
  const { name, port, log } = options;
  const child = spawn(options.command, options.args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let spawnError: Error | undefined;
  child.on('error', (error) => {
    spawnError = error;
  });
  track(child);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) break;
    if (await greets(port, options.greeting)) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const why = spawnError
    ? `could not be started: ${spawnError.message}`
    : child.exitCode !== null || child.signalCode !== null
      ? `exited (${child.exitCode ?? child.signalCode})`
      : 'did not answer within 15 s';
  await kill(child);
  const logText = await readFile(log, 'utf8').catch(() => '');
  throw new Error(`${name} on 127.0.0.1:${port} ${why}\n--- log (${log}) ---\n${logText}${stderr}`);
}
