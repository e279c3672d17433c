/** Helpers shared by the benchmark scripts: child processes, psql, /usr/bin/time, the build, the pipelines. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { DEFAULT_GENERATE, generateVisits, type GeneratedFiles } from './visits-data.js';
import { VISITS_COLUMNS } from '../test/helpers/visits-fixtures.js';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const SLUICE = path.join(ROOT, 'dist', 'cli', 'main.js');

export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, collecting its output; throws when it cannot start. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; inherit?: boolean } = {},
): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: options.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/** Like run, but a non-zero exit is an error that shows the command's stderr. */
export async function runOk(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; inherit?: boolean } = {},
): Promise<Output> {
  const out = await run(command, args, options);
  if (out.code !== 0) {
    const shown = [command, ...args].join(' ');
    throw new Error(`${shown} exited with ${out.code}\n${out.stderr.trim()}\n${out.stdout.trim()}`.trim());
  }
  return out;
}

export interface Timed extends Output {
  seconds: number;
  peakRssKb: number;
  userSeconds: number;
  systemSeconds: number;
  /** CPU time the hypervisor gave to other guests during the run, all CPUs (from /proc/stat). */
  stealSeconds: number;
}

/** Steal ticks (USER_HZ, 100 a second) summed over the CPUs; 0 where /proc/stat is missing. */
function stealTicks(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    return Number(cpu[8] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Runs a command under GNU time: wall seconds, peak RSS (KB) and CPU seconds come from the line time writes
 * last on stderr (`%e %M %U %S`).
 */
export async function timed(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<Timed> {
  const steal = stealTicks();
  const out = await run('/usr/bin/time', ['-f', '%e %M %U %S', command, ...args], options);
  const stealSeconds = (stealTicks() - steal) / 100;
  const lines = out.stderr.trimEnd().split('\n');
  const last = lines.pop() ?? '';
  const m = /^(\d+(?:\.\d+)?) (\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(last.trim());
  if (!m) throw new Error(`no timing line from /usr/bin/time for ${command}: ${out.stderr.slice(-500)}`);
  return {
    ...out,
    stderr: lines.join('\n'),
    seconds: Number(m[1]),
    peakRssKb: Number(m[2]),
    userSeconds: Number(m[3]),
    systemSeconds: Number(m[4]),
    stealSeconds,
  };
}

/** One psql statement (or backslash command) against `url`; returns its unaligned, tuples-only output. */
export async function psql(url: string, sql: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const out = await runOk('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    env,
  });
  return out.stdout.trim();
}

/** `postgres://user@host:port/other`: the same server, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else yield full;
  }
}

/** Why dist/ must be rebuilt (a source newer than its output, or output missing), or undefined. */
export async function staleBuild(): Promise<string | undefined> {
  const mtime = (file: string) =>
    stat(file).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
  const main = await mtime(SLUICE);
  if (main === undefined) return 'dist/cli/main.js is missing';
  for (const config of ['tsconfig.json', 'package.json', 'scripts/bundle-cli.mjs']) {
    const t = await mtime(path.join(ROOT, config));
    if (t !== undefined && t > main) return `${config} is newer than dist/`;
  }
  // The bin is one bundle of src/ (scripts/bundle-cli.mjs): any source newer than it makes it stale.
  for await (const file of walk(path.join(ROOT, 'src'))) {
    if (!file.endsWith('.ts')) continue;
    if ((await mtime(file))! > main) return `${path.relative(ROOT, file)} is newer than dist/cli/main.js`;
  }
  // The dashboard: web/*.ts compile to dist/web/*.js; the page, the stylesheet and the config copy as they are.
  for (const name of await readdir(path.join(ROOT, 'web')).catch(() => [] as string[])) {
    const output = name.endsWith('.ts')
      ? name.replace(/\.ts$/, '.js')
      : /\.(html|css)$/.test(name)
        ? name
        : undefined;
    const source = await mtime(path.join(ROOT, 'web', name));
    const built = await mtime(path.join(ROOT, 'dist', 'web', output ?? 'app.js'));
    if (built === undefined) return `dist/web/${output ?? 'app.js'} is missing`;
    if (source! > built) return `web/${name} is newer than dist/web/`;
  }
  return undefined;
}

/** Runs `npm run build` when dist/ is stale or missing. BENCH_SKIP_BUILD=1 measures dist/ as it is. */
export async function ensureBuilt(log: (line: string) => void): Promise<{ built: boolean; reason?: string }> {
  const reason = await staleBuild();
  if (!reason) return { built: false };
  if (process.env.BENCH_SKIP_BUILD === '1') {
    log(`dist/ is stale (${reason}) but BENCH_SKIP_BUILD=1: measuring it as it is`);
    return { built: false, reason };
  }
  log(`building: ${reason}`);
  const out = await run('npm', ['run', 'build', '--silent'], { inherit: true });
  if (out.code !== 0) {
    throw new Error(
      'npm run build failed: fix the build, or set BENCH_SKIP_BUILD=1 to measure dist/ as it is',
    );
  }
  return { built: true, reason };
}

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGb: number;
  node: string;
  postgres: string;
  loadAverage: string;
  commit: string;
  dirtySrcFiles: number;
}

export async function describeMachine(url: string): Promise<Machine> {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    const model = /^model\s*:\s*(\d+)$/m.exec(info)?.[1];
    const family = /^cpu family\s*:\s*(\d+)$/m.exec(info)?.[1];
    if (model && family) cpu += ` (family ${family}, model ${model})`;
  } catch {
    // not Linux: keep what os.cpus() says
  }
  const commit = await run('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = await run('git', ['status', '--porcelain', '--', 'src']);
  return {
    nproc: cpus().length,
    cpu,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres: await psql(url, 'SHOW server_version'),
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    commit: commit.stdout.trim(),
    dirtySrcFiles: dirty.stdout.split('\n').filter((l) => l.trim()).length,
  };
}

/** The visits layout, its second column accepted under any name (as in examples/visits/pipeline.yaml). */
export const EXPECT_HEADER = VISITS_COLUMNS.map((name, i) => (i === 1 ? { name: 'jk', any: true } : name));

/** The table Sluice creates from the checks below (integer { min: 0 } without max is bigint). */
export const TYPED_COLUMNS: [string, string][] = [
  ['email', 'text'],
  ['jk', 'text'],
  ['badmail', 'text'],
  ['baja', 'text'],
  ['fecha_envio', 'timestamp without time zone'],
  ['fecha_open', 'timestamp without time zone'],
  ['opens', 'bigint'],
  ['opens_virales', 'bigint'],
  ['fecha_click', 'timestamp without time zone'],
  ['clicks', 'bigint'],
  ['clicks_virales', 'bigint'],
  ['links', 'text'],
  ['ips', 'text'],
  ['navegadores', 'text'],
  ['plataformas', 'text'],
];

/**
 * A pipeline over the visits layout with every check of examples/visits/pipeline.yaml, loading into
 * `table`. The pipeline name keys Sluice's file ledger, so each run that must load the same file again
 * gets its own name.
 */
export function pipelineYaml(p: {
  name: string;
  folder: string;
  table: string;
  mode: 'append' | 'merge';
  keys?: string[];
  /** parse.batchSize; the parser's default when left out. */
  batchSize?: number;
}): string {
  const header = EXPECT_HEADER.map((c) => (typeof c === 'string' ? c : `{ name: ${c.name}, any: true }`));
  return [
    `name: ${p.name}`,
    'source:',
    `  url: ${JSON.stringify(p.folder)}`,
    '  glob: report_*.txt',
    '  onLoad: keep',
    'parse:',
    '  type: csv',
    ...(p.batchSize ? [`  batchSize: ${p.batchSize}`] : []),
    `  expectHeader: [${header.join(', ')}]`,
    'check:',
    "  nullValues: ['-', '']",
    '  columns:',
    '    email: { required: true, trim: true, lowercase: true, email: true }',
    "    Fecha envio: { required: true, datetime: 'dd/MM/yyyy HH:mm' }",
    "    Fecha open: { datetime: 'dd/MM/yyyy HH:mm' }",
    "    Fecha click: { datetime: 'dd/MM/yyyy HH:mm' }",
    '    Opens: { integer: { min: 0 } }',
    '    Opens virales: { integer: { min: 0 } }',
    '    Clicks: { integer: { min: 0 } }',
    '    Clicks virales: { integer: { min: 0 } }',
    'load:',
    '  type: postgres',
    `  table: ${p.table}`,
    `  mode: ${p.mode}`,
    ...(p.keys ? [`  keys: [${p.keys.join(', ')}]`] : []),
    '',
  ].join('\n');
}

/** The summary `sluice run --json` prints (the fields the benchmark reads). */
export interface RunSummary {
  status: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  filesLoaded: number;
  durationMs: number;
  timings: Record<string, number>;
  error?: { code: string; message: string };
}

export function parseSummary(stdout: string): RunSummary {
  // The summary is printed with two-space indents: from a line "{" to the next line "}". Anything else on
  // stdout (--trace-gc lines) is skipped.
  const lines = stdout.split('\n');
  const start = lines.indexOf('{');
  const end = lines.indexOf('}', start);
  if (start < 0 || end < 0) throw new Error(`sluice printed no JSON summary: ${stdout.slice(0, 500)}`);
  return JSON.parse(lines.slice(start, end + 1).join('\n')) as RunSummary;
}

export const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The temp folder of one benchmark run and the files generated in it. */
export interface Workspace {
  tmp: string;
  /** The source folder of the pipelines: holds report_bench.txt only. */
  dataDir: string;
  sluiceFile: string;
  /** The same rows with the invalid ones repaired, for psql \copy. */
  refFile: string;
  /** SLUICE_HOME of the runs. */
  home: string;
  data: GeneratedFiles;
}

export async function createWorkspace(rows: number, log: (line: string) => void): Promise<Workspace> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'sluice-bench-'));
  const dataDir = path.join(tmp, 'inbox');
  const refDir = path.join(tmp, 'reference');
  const home = path.join(tmp, 'home');
  await Promise.all([dataDir, refDir, home].map((d) => mkdir(d, { recursive: true })));
  const sluiceFile = path.join(dataDir, 'report_bench.txt');
  const refFile = path.join(refDir, 'reference.csv');
  log(`generating ${rows.toLocaleString('en')} rows into ${tmp}`);
  const data = await generateVisits(sluiceFile, refFile, { ...DEFAULT_GENERATE, rows });
  // Dated an hour back, as a daily report that arrived before its run: a file younger than the source's
  // minAge (10m) would first wait stableFor (2s) to be sure it is no longer being written.
  const arrived = new Date(Date.now() - 3600_000);
  await utimes(sluiceFile, arrived, arrived);
  log(
    `  ${(data.bytes / 1e6).toFixed(0)} MB, ${data.invalidRows} invalid rows, ${data.quotedLinks} quoted Links, ` +
      `in ${data.seconds.toFixed(1)} s`,
  );
  return { tmp, dataDir, sluiceFile, refFile, home, data };
}

/**
 * A fresh database `name` on the local server (dropped first), or BENCH_DATABASE_URL as it is with the
 * benchmark's tables dropped. Sluice's schema is created in it before anything is timed.
 */
export async function prepareDatabase(
  name: string,
  tables: readonly string[],
  home: string,
): Promise<{ url: string; created: boolean; env: NodeJS.ProcessEnv }> {
  let url = process.env.BENCH_DATABASE_URL;
  let created = false;
  if (url) {
    await psql(url, `DROP TABLE IF EXISTS ${tables.join(', ')}`);
  } else {
    await psql(ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await psql(ADMIN_URL, `CREATE DATABASE ${name}`);
    created = true;
    url = withDatabase(ADMIN_URL, name);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, SLUICE_HOME: home };
  delete env.PGOPTIONS;
  await runOk('node', [SLUICE, 'runs'], { env });
  return { url, created, env };
}

export async function dropDatabase(name: string): Promise<void> {
  await psql(ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** The node flags on the first line of the bin (`#!/usr/bin/env -S node --flag`). */
function binNodeFlags(): string[] {
  const first = readFileSync(SLUICE, 'utf8').split('\n', 1)[0] ?? '';
  return first.split(/\s+/).filter((word) => word.startsWith('--'));
}

/**
 * `sluice run PIPELINE --json` under /usr/bin/time, with `nodeFlags` for node (--cpu-prof…). Throws unless
 * the run succeeded and loaded its file.
 */
export async function runSluice(
  pipelineFile: string,
  env: NodeJS.ProcessEnv,
  nodeFlags: readonly string[] = [],
): Promise<{ timed: Timed; summary: RunSummary }> {
  // As users run it: the bin, whose first line gives node its flags; with extra flags, node and the same.
  const t =
    nodeFlags.length === 0
      ? await timed(SLUICE, ['run', pipelineFile, '--json'], { env })
      : await timed('node', [...binNodeFlags(), ...nodeFlags, SLUICE, 'run', pipelineFile, '--json'], {
          env,
        });
  let summary: RunSummary;
  try {
    summary = parseSummary(t.stdout);
  } catch {
    throw new Error(`sluice run ${pipelineFile} exited with ${t.code}: ${t.stderr.slice(-2000)}`);
  }
  if (t.code !== 0 || summary.status !== 'succeeded' || summary.filesLoaded !== 1) {
    throw new Error(
      `sluice run ${pipelineFile} did not load the file: ${JSON.stringify(summary.error ?? summary)}`,
    );
  }
  return { timed: t, summary };
}

/** Writes a pipeline file for `pipelineYaml(p)` into `dir` and returns its path. */
export async function writePipeline(dir: string, p: Parameters<typeof pipelineYaml>[0]): Promise<string> {
  const file = path.join(dir, `${p.name}.yaml`);
  await writeFile(file, pipelineYaml(p));
  return file;
}
