/**
 * Start-up of the `sluice` bin: how long a short command takes from process start to exit, warm (the first
 * run of each is not counted). Reported, never asserted: the figures depend on the machine and its load.
 * Part of `npm run bench` (BENCH_STARTUP=0 leaves it out); alone: `node --import tsx bench/startup.ts`.
 *
 *   BENCH_STARTUP_RUNS=10   timed runs of each command; the median and the fastest are reported
 *
 * Target: `sluice --help` and `sluice runs` under 300 ms warm. `sluice runs` on the embedded database
 * includes starting PGlite (WebAssembly PostgreSQL), which no change to the CLI can avoid; while
 * `sluice serve` holds it, the command works through the service instead (measured too).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ADMIN_URL,
  dropDatabase,
  ensureBuilt,
  psql,
  ROOT,
  runOk,
  SLUICE,
  timed,
  withDatabase,
} from './bench-lib.js';

const RUNS = Math.max(1, Math.floor(Number(process.env.BENCH_STARTUP_RUNS ?? 10)));
const TARGET_MS = 300;
const DATABASE = 'sluice_bench_startup';

const started = performance.now();
const log = (line: string) =>
  process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

interface StartupCase {
  case: string;
  medianMs: number;
  fastestMs: number;
  peakRssMb: number;
  /** Whether the median is under the target (only for the commands the target names). */
  underTarget?: boolean;
  samplesMs: number[];
}

export async function runStartupBench(): Promise<StartupCase[]> {
  await ensureBuilt(log);
  const tmp = await mkdtemp(path.join(tmpdir(), 'sluice-bench-startup-'));
  try {
    const home = path.join(tmp, 'home');
    await mkdir(home, { recursive: true });
    const embedded: NodeJS.ProcessEnv = { ...process.env, SLUICE_HOME: home, DATABASE_URL: '' };
    log('creating the embedded database (sluice demo)');
    await runOk('node', [SLUICE, 'demo'], { env: embedded });

    await dropDatabase(DATABASE);
    await psql(ADMIN_URL, `CREATE DATABASE ${DATABASE}`);
    const server: NodeJS.ProcessEnv = { ...embedded, DATABASE_URL: withDatabase(ADMIN_URL, DATABASE) };
    await runOk('node', [SLUICE, 'runs'], { env: server }); // Sluice's schema, before anything is timed

    // Three floors measured in the same run: node starting an empty script, psql reading the same runs
    // from the server (its start, connection and query), and PGlite alone opening the embedded store and
    // reading them (what no CLI change can go under).
    const serverUrl = withDatabase(ADMIN_URL, DATABASE);
    const cases: [string, string, string[], NodeJS.ProcessEnv, boolean][] = [
      ['baseline: node -e 0', 'node', ['-e', '0'], embedded, false],
      ['sluice --version', SLUICE, ['--version'], embedded, false],
      ['sluice --help', SLUICE, ['--help'], embedded, true],
      [
        'baseline: psql, 20 latest runs',
        'psql',
        ['-X', '-q', '-d', serverUrl, '-c', 'SELECT * FROM sluice.runs ORDER BY started_at DESC LIMIT 20'],
        server,
        false,
      ],
      ['sluice runs (PostgreSQL server)', SLUICE, ['runs'], server, true],
      [
        'baseline: PGlite alone, same read',
        'node',
        [path.join(ROOT, 'bench', 'pglite-open.mjs'), path.join(home, 'pgdata')],
        embedded,
        false,
      ],
      ['sluice runs (embedded PGlite)', SLUICE, ['runs'], embedded, true],
      ['sluice plugins (every plugin loaded)', SLUICE, ['plugins'], embedded, false],
    ];
    const results: StartupCase[] = [];
    const measure = async (
      name: string,
      command: string,
      args: string[],
      env: NodeJS.ProcessEnv,
      targeted: boolean,
    ) => {
      log(`${name}: ${RUNS} runs after a warm-up`);
      // The bin itself, as a user runs it: its first line starts node with the CLI's flags.
      await timed(command, args, { env });
      const samples = [];
      for (let i = 0; i < RUNS; i++) {
        const t = await timed(command, args, { env });
        if (t.code !== 0) throw new Error(`${name} exited with ${t.code}: ${t.stderr.slice(-1000)}`);
        samples.push(t);
      }
      const ms = samples.map((s) => Math.round(s.seconds * 1000)).sort((a, b) => a - b);
      const medianMs = ms[Math.floor((ms.length - 1) / 2)]!;
      results.push({
        case: name,
        medianMs,
        fastestMs: ms[0]!,
        peakRssMb: Math.round(Math.max(...samples.map((s) => s.peakRssKb)) / 1024),
        ...(targeted ? { underTarget: medianMs < TARGET_MS } : {}),
        samplesMs: ms,
      });
    };
    for (const [name, command, args, env, targeted] of cases)
      await measure(name, command, args, env, targeted);
    // While `sluice serve` holds the embedded database, commands work through it: no PGlite start of their own.
    await withService(embedded, tmp, () =>
      measure('sluice runs (embedded, sluice serve running)', SLUICE, ['runs'], embedded, true),
    );

    process.stdout.write(
      `\nStart-up, warm (median of ${RUNS}; target for --help and runs: < ${TARGET_MS} ms)\n`,
    );
    const width = Math.max(...results.map((r) => r.case.length));
    const floor = results[0]!.medianMs;
    const pglite = results.find((r) => r.case.startsWith('baseline: PGlite'))?.medianMs;
    for (const r of results) {
      const mark = r.underTarget === undefined ? '' : r.underTarget ? '  under target' : '  OVER target';
      let over = r.case.startsWith('sluice') ? `, node + ${r.medianMs - floor} ms` : '';
      if (r.case === 'sluice runs (embedded PGlite)' && pglite !== undefined)
        over += `, PGlite alone + ${r.medianMs - pglite} ms`;
      process.stdout.write(
        `  ${r.case.padEnd(width)}  ${String(r.medianMs).padStart(5)} ms median, ${String(r.fastestMs).padStart(5)} ms fastest, ${r.peakRssMb} MB${over}${mark}\n`,
      );
    }
    const out = path.join(ROOT, 'bench', 'out');
    await mkdir(out, { recursive: true });
    await writeFile(
      path.join(out, 'startup.json'),
      JSON.stringify(
        {
          finishedAt: new Date().toISOString(),
          node: process.version,
          runs: RUNS,
          targetMs: TARGET_MS,
          results,
        },
        null,
        2,
      ) + '\n',
    );
    log('results in bench/out/startup.json');
    return results;
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await dropDatabase(DATABASE).catch(() => undefined);
  }
}

/** Runs `work` while `sluice serve` (no schedules, no pipelines) holds the embedded database of `env`. */
async function withService<T>(env: NodeJS.ProcessEnv, dir: string, work: () => Promise<T>): Promise<T> {
  const file = path.join(dir, 'service.yaml');
  await writeFile(file, 'pipelines: []\n');
  const child = spawn('node', [SLUICE, 'serve', file, '--port', '0', '--no-scheduler'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    while (!output.includes('sluice serve started')) {
      if (child.exitCode !== null) throw new Error(`sluice serve exited with ${child.exitCode}: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return await work();
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

// Alone: node --import tsx bench/startup.ts
if (import.meta.url === `file://${process.argv[1]}`) await runStartupBench();
