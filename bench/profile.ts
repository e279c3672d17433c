/**
 * Where the time of the append case goes (see bench/README.md):
 *
 *   node --import tsx bench/profile.ts
 *
 * 1. the append case under `node --cpu-prof --cpu-prof-dir=$BENCH_PROF_DIR` (default /tmp/prof), summarised
 *    by bench/cpuprofile-summary.ts; the profile is copied to bench/out/append.cpuprofile for DevTools;
 * 2. the same under `--trace-gc`: scavenges and mark-compacts, counted and timed;
 * 3. a few settings that need no code change, each run BENCH_VARIANT_RUNS times (default 2), alternating:
 *    the defaults, a larger young generation, smaller batches (BENCH_VARIANTS=0 skips them).
 *
 * Same data, database handling and environment variables as bench/run.ts (BENCH_ROWS, BENCH_DATABASE_URL,
 * BENCH_KEEP_DATABASE, BENCH_SKIP_BUILD). Results also go to bench/out/profile.json.
 */
import { rmSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createWorkspace,
  dropDatabase,
  ensureBuilt,
  prepareDatabase,
  psql,
  ROOT,
  runSluice,
  writePipeline,
  type Workspace,
} from './bench-lib.js';
import { formatSummary, summariseFile, type ProfileSummary } from './cpuprofile-summary.js';
import { DEFAULT_GENERATE } from './visits-data.js';

const ROWS = Number(process.env.BENCH_ROWS ?? DEFAULT_GENERATE.rows);
const PROF_DIR = process.env.BENCH_PROF_DIR ?? '/tmp/prof';
const VARIANTS = process.env.BENCH_VARIANTS !== '0';
const VARIANT_RUNS = Math.max(1, Number(process.env.BENCH_VARIANT_RUNS ?? 2));
const DATABASE = 'sluice_bench_profile';
const OUT = path.join(ROOT, 'bench', 'out');

const started = performance.now();
const log = (line: string) =>
  process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

interface GcTotals {
  scavenges: number;
  scavengeMs: number;
  markCompacts: number;
  markCompactMs: number;
  /** Largest heap seen after a GC, MB. */
  peakHeapMb: number;
}

/** Sums the main-thread GC time --trace-gc reports ("Scavenge 5.1 (6.0) -> 4.6 (7.0) MB, 0.62 / 0.00 ms …"). */
function gcTotals(stdout: string): GcTotals {
  const totals: GcTotals = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, peakHeapMb: 0 };
  // The pause, then for a mark-compact the incremental marking steps done before it: "(+ 32.4 ms in 60 steps".
  const re =
    /: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact|Minor Mark-Sweep)\b.*?-> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms(?:\s+\(\+ ([\d.]+) ms in)?/;
  for (const line of stdout.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const ms = Number(m[3]) + Number(m[4] ?? 0);
    if (m[1] === 'Scavenge' || m[1]!.startsWith('Minor')) {
      totals.scavenges++;
      totals.scavengeMs += ms;
    } else {
      totals.markCompacts++;
      totals.markCompactMs += ms;
    }
    totals.peakHeapMb = Math.max(totals.peakHeapMb, Number(m[2]));
  }
  totals.scavengeMs = Math.round(totals.scavengeMs);
  totals.markCompactMs = Math.round(totals.markCompactMs);
  return totals;
}

async function main(): Promise<void> {
  let ws: Workspace | undefined;
  let created = false;
  const onSignal = () => {
    if (ws) rmSync(ws.tmp, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await ensureBuilt(log);
    ws = await createWorkspace(ROWS, log);
    const db = await prepareDatabase(DATABASE, ['bench_append'], ws.home);
    created = db.created;
    const stamp = Date.now().toString(36);
    let n = 0;
    /** One append run into an emptied bench_append; a new pipeline name each time (the ledger skips reruns). */
    const append = async (nodeFlags: string[] = [], batchSize?: number) => {
      const file = await writePipeline(ws!.tmp, {
        name: `profile-${stamp}-${++n}`,
        folder: ws!.dataDir,
        table: 'bench_append',
        mode: 'append',
        ...(batchSize ? { batchSize } : {}),
      });
      if ((await psql(db.url, "SELECT to_regclass('bench_append') IS NOT NULL")) === 't') {
        await psql(db.url, 'TRUNCATE bench_append');
      }
      await psql(db.url, 'CHECKPOINT');
      return runSluice(file, db.env, nodeFlags);
    };

    // ---- 1. CPU profile ----------------------------------------------------------------------------------
    await rm(PROF_DIR, { recursive: true, force: true });
    await mkdir(PROF_DIR, { recursive: true });
    const profiled = await append(['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`]);
    const profiles = (await readdir(PROF_DIR)).filter((f) => f.endsWith('.cpuprofile'));
    if (profiles.length !== 1)
      throw new Error(`expected one profile in ${PROF_DIR}, found ${profiles.length}`);
    await mkdir(OUT, { recursive: true });
    await copyFile(path.join(PROF_DIR, profiles[0]!), path.join(OUT, 'append.cpuprofile'));
    const summary: ProfileSummary = await summariseFile(path.join(PROF_DIR, profiles[0]!), 30);
    log(
      `append under --cpu-prof: ${profiled.timed.seconds.toFixed(2)} s wall, ` +
        `${(profiled.timed.userSeconds + profiled.timed.systemSeconds).toFixed(2)} s CPU, ` +
        `${(profiled.timed.peakRssKb / 1024).toFixed(0)} MB; timings ${JSON.stringify(profiled.summary.timings)}`,
    );
    process.stdout.write('\n' + formatSummary(summary) + '\n');

    // ---- 2. GC trace -------------------------------------------------------------------------------------
    const traced = await append(['--trace-gc']);
    const gc = gcTotals(traced.timed.stdout);
    log(
      `append under --trace-gc: ${traced.timed.seconds.toFixed(2)} s; ${gc.scavenges} scavenges ` +
        `(${gc.scavengeMs} ms of pauses), ${gc.markCompacts} mark-compacts (${gc.markCompactMs} ms); ` +
        `largest heap after a GC ${gc.peakHeapMb.toFixed(0)} MB`,
    );

    // ---- 3. settings that need no code change ------------------------------------------------------------
    const variants: {
      name: string;
      flags: string[];
      batchSize?: number;
      seconds: number[];
      cpuSeconds?: number[];
      rssMb: number[];
    }[] = [
      { name: 'defaults', flags: [], seconds: [], rssMb: [] },
      { name: 'node --max-semi-space-size=32', flags: ['--max-semi-space-size=32'], seconds: [], rssMb: [] },
      { name: 'node --max-semi-space-size=64', flags: ['--max-semi-space-size=64'], seconds: [], rssMb: [] },
      { name: 'parse.batchSize: 1000', flags: [], batchSize: 1000, seconds: [], rssMb: [] },
      { name: 'parse.batchSize: 500', flags: [], batchSize: 500, seconds: [], rssMb: [] },
      {
        name: 'batchSize 500 + semi-space 32',
        flags: ['--max-semi-space-size=32'],
        batchSize: 500,
        seconds: [],
        rssMb: [],
      },
    ];
    if (VARIANTS) {
      log(`settings, ${VARIANT_RUNS} runs each, alternating:`);
      for (let r = 0; r < VARIANT_RUNS; r++) {
        for (const v of variants) {
          const { timed: t } = await append(v.flags, v.batchSize);
          v.seconds.push(t.seconds);
          (v.cpuSeconds ??= []).push(Math.round((t.userSeconds + t.systemSeconds) * 100) / 100);
          v.rssMb.push(Math.round(t.peakRssKb / 1024));
        }
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      for (const v of variants) {
        log(
          `  ${v.name.padEnd(32)} ${v.seconds.map((s) => s.toFixed(2)).join(' ')} s ` +
            `(mean ${mean(v.seconds).toFixed(2)}), node CPU mean ${mean(v.cpuSeconds ?? [0]).toFixed(2)} s, ` +
            `peak RSS ${Math.max(...v.rssMb)} MB`,
        );
      }
    }

    await writeFile(
      path.join(OUT, 'profile.json'),
      JSON.stringify(
        {
          finishedAt: new Date().toISOString(),
          rows: ROWS,
          cpuProfile: {
            seconds: profiled.timed.seconds,
            cpuSeconds: profiled.timed.userSeconds + profiled.timed.systemSeconds,
            timings: profiled.summary.timings,
            ...summary,
          },
          gc: { seconds: traced.timed.seconds, ...gc },
          variants: VARIANTS ? variants : [],
        },
        null,
        2,
      ) + '\n',
    );
    log('bench/out/profile.json and bench/out/append.cpuprofile written');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (ws) await rm(ws.tmp, { recursive: true, force: true });
    if (created && process.env.BENCH_KEEP_DATABASE !== '1')
      await dropDatabase(DATABASE).catch(() => undefined);
  }
}

await main().catch((error: unknown) => {
  process.stderr.write(
    `profile: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
