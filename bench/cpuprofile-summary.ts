/**
 * Where the time of a V8 .cpuprofile (node --cpu-prof) goes: self time per function, and per group (CSV
 * parsing, checks, COPY text, pg/socket, hashing, GC, idle…). Native built-ins (String.prototype.slice,
 * indexOf…) have no script of their own: their time is charged to the group of the nearest caller that has
 * one, so that `slice` called by the CSV reader counts as CSV parsing.
 *
 *   node --import tsx bench/cpuprofile-summary.ts FILE.cpuprofile [top]
 */
import { readFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  group: string;
  selfMs: number;
}

export interface ProfileSummary {
  totalMs: number;
  groups: { group: string; ms: number; percent: number }[];
  top: (FunctionTime & { percent: number })[];
}

/**
 * Groups, tried in order on the script URL (or the special node names). A node whose URL matches none and
 * is native or Node-internal (`node:…`) takes the group of its caller.
 */
const GROUPS: [string, (url: string, name: string) => boolean][] = [
  ['idle (waiting for PostgreSQL or the disk)', (_, n) => n === '(idle)'],
  ['GC', (_, n) => n === '(garbage collector)'],
  ['V8/native, unattributed', (_, n) => n === '(program)' || n === '(root)'],
  [
    'CSV parsing (incl. UTF-8 decoding)',
    (u) => /parsers\/(csv-parser|batch-builder)\.[jt]s$/.test(u) || u === 'node:string_decoder',
  ],
  ['checks', (u) => /\/plugins\/checks\//.test(u) || /runner\/check-stage\.[jt]s$/.test(u)],
  ['COPY text serialisation', (u) => /postgres\/copy-text\.[jt]s$/.test(u) || /core\/sql\.[jt]s$/.test(u)],
  [
    'hashing (sha256 pre-pass)',
    (u) => /runner\/file-hash\.[jt]s$/.test(u) || u.startsWith('node:internal/crypto'),
  ],
  ['rejects spool', (u) => /runner\/reject-spool\.[jt]s$/.test(u)],
  [
    'COPY stream: string→Buffer, pg-copy-streams, socket',
    (u) =>
      /node_modules\/(pg|pg-copy-streams|pg-protocol|pg-pool)\//.test(u) ||
      /^node:(net|internal\/stream_base_commons|internal\/streams\/writable)$/.test(u),
  ],
  [
    'embedded PostgreSQL (PGlite, its wasm)',
    (u) => /node_modules\/@electric-sql\//.test(u) || u.startsWith('wasm://'),
  ],
  ['file reading', (u) => /^node:(fs|internal\/fs\/.*)$/.test(u)],
  [
    'Node streams, async iteration, microtasks',
    (u) => /^node:(internal\/streams\/.*|stream|events|internal\/process\/task_queues)$/.test(u),
  ],
  ['runner and loader glue', (u) => /\/(runner|store|plugins\/loaders|connectors)\//.test(u)],
  [
    'startup (module loading, CLI, config)',
    (u) =>
      /^node:internal\/(modules|bootstrap)\//.test(u) ||
      /node_modules\/(zod|yaml|commander|tsx|esbuild)\//.test(u) ||
      /\/(cli|core)\//.test(u),
  ],
];

function groupOf(url: string, name: string): string | undefined {
  for (const [group, test] of GROUPS) if (test(url, name)) return group;
  if (url === '' || url.startsWith('node:')) return undefined;
  return 'other JavaScript';
}

export function summarise(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Self time per node from the samples and their time deltas (more exact than hitCount × interval).
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
  }

  const groupCache = new Map<number, string>();
  const nodeGroup = (id: number): string => {
    const cached = groupCache.get(id);
    if (cached) return cached;
    const node = byId.get(id)!;
    let group = groupOf(node.callFrame.url, node.callFrame.functionName);
    if (group === undefined) {
      const up = parent.get(id);
      group = up === undefined ? 'V8/native, unattributed' : nodeGroup(up);
    }
    groupCache.set(id, group);
    return group;
  };

  const groups = new Map<string, number>();
  const functions = new Map<string, FunctionTime>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const group = nodeGroup(id);
    totalUs += us;
    groups.set(group, (groups.get(group) ?? 0) + us);
    const f = node.callFrame;
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '(native)';
    const name = f.functionName || '(anonymous)';
    // Built-ins are listed once per group, so that slice() under CSV parsing and under checks stay apart.
    const key = f.url ? `${name} ${where}` : `${name} ${group}`;
    const entry = functions.get(key) ?? { name, where, group, selfMs: 0 };
    entry.selfMs += us / 1000;
    functions.set(key, entry);
  }
  const totalMs = totalUs / 1000;
  const pct = (ms: number) => Math.round((ms / totalMs) * 1000) / 10;
  return {
    totalMs: Math.round(totalMs),
    groups: [...groups]
      .map(([group, us]) => ({ group, ms: Math.round(us / 1000), percent: pct(us / 1000) }))
      .sort((a, b) => b.ms - a.ms),
    top: [...functions.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((f) => ({ ...f, selfMs: Math.round(f.selfMs), percent: pct(f.selfMs) })),
  };
}

function shortUrl(url: string): string {
  const m = /\/node_modules\/(.+)$/.exec(url);
  if (m) return m[1]!;
  const d = /\/(dist|src)\/(.+)$/.exec(url);
  if (d) return `${d[1]}/${d[2]}`;
  return url.replace(/^file:\/\//, '');
}

const short = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function formatSummary(s: ProfileSummary): string {
  const lines = [`profiled ${(s.totalMs / 1000).toFixed(2)} s of the main thread`, '', 'by group:'];
  for (const g of s.groups)
    lines.push(
      `  ${g.group.padEnd(52)} ${String(g.ms).padStart(6)} ms  ${g.percent.toFixed(1).padStart(5)} %`,
    );
  lines.push('', 'top self time:');
  for (const f of s.top) {
    lines.push(
      `  ${String(f.selfMs).padStart(6)} ms ${f.percent.toFixed(1).padStart(5)} %  ` +
        `${short(f.name, 30).padEnd(30)}  ${short(f.group, 34).padEnd(34)}  ${f.where}`,
    );
  }
  return lines.join('\n') + '\n';
}

export async function summariseFile(file: string, top = 25): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  await toSources(profile);
  return summarise(profile, top);
}

/**
 * Points the frames of bundled code (the bin is an esbuild bundle: dist/cli/chunk-*.js) at the source files
 * and lines behind them, through the source map beside each chunk, so that the groups above apply.
 */
async function toSources(profile: CpuProfile): Promise<void> {
  const maps = new Map<string, SourceMap | undefined>();
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    if (!/^file:.*\/dist\/.*\.js$/.test(frame.url)) continue;
    if (!maps.has(frame.url)) {
      const text = await readFile(`${fileURLToPath(frame.url)}.map`, 'utf8').catch(() => undefined);
      maps.set(frame.url, text === undefined ? undefined : new SourceMap(JSON.parse(text)));
    }
    const entry = maps.get(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
    if (!entry || !('originalSource' in entry)) continue;
    frame.url = new URL(entry.originalSource, frame.url).href;
    frame.lineNumber = entry.originalLine;
    frame.columnNumber = entry.originalColumn;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/cpuprofile-summary.ts FILE.cpuprofile [top]\n');
    process.exit(2);
  }
  process.stdout.write(formatSummary(await summariseFile(file, Number(process.argv[3] ?? 25))));
}
