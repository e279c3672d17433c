import { spawn } from 'node:child_process';
import path from 'node:path';
import { run, staleBuild } from '../../bench/bench-lib.js';
import { withLock } from './debian-packages.js';
import { REPO } from './pipeline-harness.js';

/** The built command, as `npm install` leaves it and a user's PATH finds it. */
export const BIN = path.join(REPO, 'dist', 'cli', 'main.js');

/**
 * Builds dist/ when a source is newer than its output (one build at a time across test files), so that
 * tests of the real bin test the code under test.
 */
export async function ensureBuilt(): Promise<void> {
  if (!(await staleBuild())) return;
  await withLock('sluice-test-build', async () => {
    if (!(await staleBuild())) return; // another test file built it meanwhile
    const out = await run('npm', ['run', 'build', '--silent']);
    if (out.code !== 0) throw new Error(`npm run build failed:\n${out.stdout}${out.stderr}`);
  });
}

/** PATH with the node running the tests first: the bin's `#!/usr/bin/env node` then runs on it too. */
export function pathWithNode(...first: string[]): string {
  return [...first, path.dirname(process.execPath), process.env.PATH ?? '/usr/bin:/bin'].join(path.delimiter);
}

const LIMIT_MS = 150_000;

export interface BinResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sluice …` through the built bin (its shebang, its flags), as a user's shell would. */
export function runBin(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; input?: string; command?: string } = {},
): Promise<BinResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.command ?? BIN, args, {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, NO_COLOR: '1', PATH: pathWithNode(), ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Only turns a hang into a failure that names the command; no test waits for it.
    const limit = setTimeout(() => {
      stderr += `\n[sluice ${args.join(' ')} still running after ${LIMIT_MS} ms: killed]\n`;
      child.kill('SIGKILL');
    }, LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}
