import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './free-port.js';
import { tempDir } from './pipeline-harness.js';
import { kill } from './server-process.js';

const S3RVER = path.resolve(import.meta.dirname, '../../node_modules/s3rver/bin/s3rver.js');

/** A real S3-compatible server (s3rver) on loopback, in a child process that a test may stop and restart. */
export interface S3Server {
  endpoint: string;
  bucket: string;
  /** s3rver's fixed credentials. */
  username: string;
  password: string;
  /** Stops the server (the data stays in its folder). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

/**
 * Starts s3rver with `bucket` created. It runs with `--openssl-legacy-provider` (its paged listings need it,
 * see STACK.md) in its own process group, killed with the test process at the latest.
 */
export async function startS3Server(bucket = 'lake'): Promise<S3Server> {
  const dir = await tempDir('sluice-s3-');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn(
      process.execPath,
      [S3RVER, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s', '--configure-bucket', bucket],
      {
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
      },
    );
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child = started;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) break;
      const answered = await fetch(`${endpoint}/${bucket}`).then(
        (r) => r.status < 500,
        () => false,
      );
      if (answered) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await kill(started);
    throw new Error(`s3rver on ${endpoint} did not start: ${stderr}`);
  };
  const stopOnExit = () => {
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  process.once('exit', stopOnExit);
  await start();
  const stop = async () => {
    if (child) await kill(child);
    child = undefined;
  };
  return {
    endpoint,
    bucket,
    username: 'S3RVER',
    password: 'S3RVER',
    stop,
    start,
    async close() {
      await stop();
      process.off('exit', stopOnExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
