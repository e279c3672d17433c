import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathWithNode } from './bin.js';

/**
 * Shell blocks of the user docs that tests run as written. A block is runnable when the line before its
 * opening fence (blank lines aside) is the marker:
 *
 *     <!-- runnable -->
 *     ```sh
 *     sluice runs
 *     ```
 *
 * The marker is an HTML comment, so readers of the rendered page never see it. Blocks of one file run in
 * order in one bash (`set -eo pipefail`, so exports and `cd` carry over from one block to the next), at the
 * root of a fresh copy of the repository, with `sluice` on the PATH the way README.md installs it (a link
 * in ~/.local/bin) and HOME a folder of the test's own. Mark only blocks that need nothing but what the
 * tests provide: the embedded database or a PostgreSQL server (DATABASE_URL, and PGHOST, PGPORT, PGUSER for
 * psql and createdb), and the environment variables a test passes (such as SCAN_SITE for a free port).
 */
export const RUNNABLE_MARKER = '<!-- runnable -->';

export interface RunnableBlock {
  /** The markdown file, relative to the repository. */
  file: string;
  /** Line of the opening fence (1-based). */
  line: number;
  code: string;
}

/** The runnable shell blocks of a markdown text, in order. */
export function runnableBlocks(markdown: string, file: string): RunnableBlock[] {
  const lines = markdown.split('\n');
  const blocks: RunnableBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[i]!)) continue;
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: a code block that is never closed`);
    if (before >= 0 && lines[before]!.trim() === RUNNABLE_MARKER)
      blocks.push({ file, line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Every marker that is not right above a shell block: a typo would silently leave a block untested. */
export function strayMarkers(markdown: string, file: string): string[] {
  const lines = markdown.split('\n');
  const stray: string[] = [];
  lines.forEach((l, i) => {
    if (l.trim() !== RUNNABLE_MARKER) return;
    let next = i + 1;
    while (next < lines.length && lines[next]!.trim() === '') next++;
    if (!/^```(sh|bash|shell)\s*$/.test(lines[next] ?? '')) stray.push(`${file}:${i + 1}`);
  });
  return stray;
}

export interface BlocksResult {
  code: number | null;
  /** stdout and stderr interleaved, with a `>>> file:line` line before each block. */
  output: string;
}

/**
 * Runs blocks in one bash at `cwd` (the root of a repository copy). `home` becomes HOME; its .local/bin
 * is on the PATH. When bash ends, its process group is ended too, so that anything a block left running
 * in the background stops. `limitMs` only turns a hang into a failure that shows the output so far.
 */
export async function runBlocks(
  blocks: readonly RunnableBlock[],
  options: {
    cwd: string;
    home: string;
    env?: Record<string, string | undefined>;
    limitMs?: number;
  },
): Promise<BlocksResult> {
  const bin = path.join(options.home, '.local', 'bin');
  await mkdir(bin, { recursive: true });
  const script = ['set -eo pipefail', ...blocks.map((b) => `echo ">>> ${b.file}:${b.line}"\n${b.code}`)].join(
    '\n',
  );
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({
    ...process.env,
    HOME: options.home,
    PATH: pathWithNode(bin),
    NO_COLOR: '1',
    SLUICE_HOME: undefined,
    DATABASE_URL: undefined,
    ...options.env,
  }))
    if (v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], {
      cwd: options.cwd,
      env,
      detached: true, // its own process group: see below
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const endGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // nothing is left running
      }
    };
    const limit = setTimeout(() => {
      output += `\n[still running after ${options.limitMs} ms: stopped]\n`;
      endGroup('SIGKILL');
    }, options.limitMs ?? 600_000);
    child.on('error', reject);
    child.on('exit', () => endGroup('SIGTERM'));
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, output });
    });
  });
}
