/**
 * What the worker design of bench/README.md ("Closing the merge gap") would give on this machine, before
 * anyone builds it into the runner: the bench report through the csv parser, the checks and the COPY
 * writer into a typed temp table, (a) on the main thread as the runner does it, (b) in one worker with the
 * main thread only sending bytes, (c) in N workers over segments of the file, bytes replayed in file order.
 *
 *   node --max-semi-space-size=32 --import tsx bench/parallel-copy.ts [rounds]   (default 3)
 *   BENCH_ROWS=1000000   BENCH_WORKERS=2   BENCH_DATABASE_URL=postgres://…/test
 *
 * It measures, it does not load anything anywhere: the temp table goes with its session.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pg from 'pg';
import { createCopyScratch, toCopyBytes } from '../src/connectors/postgres/copy-text.js';
import type { PluginContext } from '../src/core/plugin.js';
import { parsePipeline } from '../src/core/spec.js';
import { createRegistry } from '../src/plugins/index.js';
import { csvParser } from '../src/plugins/parsers/csv-parser.js';
import { createCheckStage } from '../src/runner/check-stage.js';
import { createWorkspace, pipelineYaml, TYPED_COLUMNS } from './bench-lib.js';
import { DEFAULT_GENERATE } from './visits-data.js';

interface Segment {
  file: string;
  start: number;
  /** Inclusive, as createReadStream takes it. */
  end: number;
  /** Column names for a segment after the first (no header line there). */
  columns?: string[];
}

type Message = { ready: true } | { bytes: Uint8Array } | { done: true; rows: number };

const CREDIT = 8; // batches a worker may have in flight before it waits for the main thread

/** The bench pipeline's parser options, checks and a quiet plugin context, as the runner builds them. */
function benchStages() {
  const registry = createRegistry();
  const yaml = pipelineYaml({ name: 'parallel', folder: '/unused', table: 't', mode: 'append' });
  const spec = parsePipeline(yaml, { file: 'parallel.yaml', env: process.env, registry });
  const context = {
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    workDir: '/tmp',
    dryRun: false,
  } as unknown as PluginContext;
  const check = createCheckStage(spec.check!, registry);
  const parse = csvParser.parse as (
    input: { stream: NodeJS.ReadableStream; origin: string },
    options: unknown,
    context: PluginContext,
  ) => AsyncIterable<Parameters<typeof check>[0]>;
  return { options: spec.parse!.options as Record<string, unknown>, check, parse, context };
}

/** Parse → checks → COPY bytes of one segment, each batch handed to `emit`. */
async function encodeSegment(segment: Segment, emit: (bytes: Uint8Array) => Promise<void>): Promise<number> {
  const { check, parse, context, ...stages } = benchStages();
  const options = { ...stages.options };
  if (segment.columns) {
    delete options.expectHeader;
    Object.assign(options, { header: false, columns: segment.columns });
  }
  const scratch = createCopyScratch();
  const stream = createReadStream(segment.file, {
    start: segment.start,
    end: segment.end,
    highWaterMark: 1 << 18,
  });
  let rows = 0;
  for await (const read of parse({ stream, origin: 'report_bench.txt' }, options, context)) {
    const checked = check(read).batch;
    rows += checked.rows.length;
    await emit(
      toCopyBytes(
        checked.rows,
        checked.columns.map((_, i) => i),
        scratch,
      ),
    );
  }
  return rows;
}

if (!isMainThread) {
  // A worker: say it is loaded, wait for the start, then encode its segment and post each batch's bytes
  // (transferred, not copied), waiting for credit.
  const port = parentPort!;
  let credit = CREDIT;
  let started: () => void = () => {};
  const start = new Promise<void>((r) => (started = r));
  let wake: (() => void) | undefined;
  port.on('message', (m: 'go' | 'credit') => {
    if (m === 'go') started();
    else credit++;
    wake?.();
  });
  port.postMessage({ ready: true } satisfies Message);
  await start;
  const rows = await encodeSegment(workerData as Segment, async (bytes) => {
    while (credit === 0) await new Promise<void>((r) => (wake = r));
    credit--;
    const copy = new Uint8Array(bytes); // toCopyBytes hands out a Buffer that may share its pool
    port.postMessage({ bytes: copy } satisfies Message, [copy.buffer]);
  });
  port.postMessage({ done: true, rows } satisfies Message);
  port.close();
} else {
  await main();
}

/** The first index of `byte` in buf[from, limit), or `limit`. */
function nextIndex(buf: Buffer, byte: number, from: number, limit: number): number {
  const i = buf.indexOf(byte, from);
  return i < 0 || i > limit ? limit : i;
}

/** Splits `file` into `n` segments at line feeds outside quotes (an even count of quotes before them). */
async function segments(file: string, n: number, size: number): Promise<Segment[]> {
  const handle = await open(file);
  try {
    const buf = Buffer.alloc(1 << 20);
    const cuts: number[] = [];
    let odd = false; // inside a quoted field at the current position
    let offset = 0;
    let want = Math.floor(size / n);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      if (bytesRead === 0 || cuts.length === n - 1) break;
      let p = 0;
      while (p < bytesRead) {
        const q = nextIndex(buf, 34, p, bytesRead);
        // No quote in [p, q): a line feed there at or after `want` is outside quotes when we are.
        if (!odd && cuts.length < n - 1 && offset + q > want) {
          const lf = nextIndex(buf, 10, Math.max(p, want - offset), q);
          if (lf < q) {
            cuts.push(offset + lf + 1);
            want = Math.floor((size / n) * (cuts.length + 1));
            p = lf + 1;
            continue;
          }
        }
        if (q >= bytesRead) break;
        odd = !odd;
        p = q + 1;
      }
      offset += bytesRead;
    }
    const bounds = [0, ...cuts, size];
    return bounds.slice(0, -1).map((start, i) => ({ file, start, end: bounds[i + 1]! - 1 }));
  } finally {
    await handle.close();
  }
}

async function main(): Promise<void> {
  const rounds = Math.max(1, Number(process.argv[2] ?? 3));
  const rows = Number(process.env.BENCH_ROWS ?? DEFAULT_GENERATE.rows);
  const workers = Math.max(1, Number(process.env.BENCH_WORKERS ?? 2));
  const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const ws = await createWorkspace(rows, log);
  const { size: bytes } = await stat(ws.sluiceFile);
  const names = TYPED_COLUMNS.map(([name]) => name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const copyFrom = (await import('pg-copy-streams')).default.from;

  /** One COPY into a fresh temp table, fed by `produce`; seconds of wall time. */
  const copyRun = async (produce: (write: (b: Uint8Array) => Promise<void>) => Promise<number>) => {
    const t = process.hrtime.bigint();
    await client.query('BEGIN');
    await client.query(
      `CREATE TEMP TABLE staged (${TYPED_COLUMNS.map(([c, type]) => `${c} ${type}`).join(', ')}) ON COMMIT DROP`,
    );
    const sink = client.query(copyFrom(`COPY staged (${names.join(', ')}) FROM STDIN`));
    const write = async (b: Uint8Array) => {
      if (!sink.write(b)) await once(sink, 'drain');
    };
    const failed = new Promise<never>((_, reject) => sink.on('error', reject));
    const produced = await Promise.race([produce(write), failed]);
    sink.end();
    await Promise.race([once(sink, 'finish'), failed]);
    const { rows: count } = await client.query<{ n: string }>('SELECT count(*) AS n FROM staged');
    await client.query('ROLLBACK');
    if (Number(count[0]!.n) !== produced) throw new Error(`copied ${count[0]!.n} rows, produced ${produced}`);
    return Number(process.hrtime.bigint() - t) / 1e9;
  };

  /**
   * Starts one worker per segment and waits until each has loaded its modules (outside the timing: the
   * bundled bin would start a worker in ~0.1 s, tsx here takes seconds); the producer then starts them and
   * writes their batches in file order, segment by segment.
   */
  const inWorkers = async (parts: Segment[]) => {
    const queues = parts.map(() => [] as Message[]);
    const waiting: ((() => void) | undefined)[] = parts.map(() => undefined);
    const failures: Error[] = [];
    const next = async (i: number) => {
      while (queues[i]!.length === 0) {
        if (failures.length > 0) throw failures[0];
        await new Promise<void>((r) => (waiting[i] = r));
      }
      return queues[i]!.shift()!;
    };
    // Node 20 does not run the main thread's tsx hooks in a worker: the entry registers them first.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(import.meta.url)});`;
    const threads = parts.map((segment, i) => {
      const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(entry)}`), {
        workerData: segment,
      });
      w.on('message', (m: Message) => {
        queues[i]!.push(m);
        waiting[i]?.();
      });
      w.on('error', (error) => {
        failures.push(error);
        waiting[i]?.();
      });
      return w;
    });
    for (let i = 0; i < parts.length; i++) await next(i); // { ready }
    return async (write: (b: Uint8Array) => Promise<void>) => {
      for (const t of threads) t.postMessage('go');
      let total = 0;
      for (let i = 0; i < parts.length; i++) {
        for (;;) {
          const m = await next(i);
          if ('done' in m) {
            total += m.rows;
            break;
          }
          if (!('bytes' in m)) continue;
          threads[i]!.postMessage('credit');
          await write(m.bytes);
        }
      }
      await Promise.all(threads.map((t) => t.terminate()));
      return total;
    };
  };

  try {
    const whole = [{ file: ws.sluiceFile, start: 0, end: bytes - 1 }];
    const split = await segments(ws.sluiceFile, workers, bytes);
    const header = await headerNames(ws.sluiceFile);
    for (const s of split.slice(1)) s.columns = header;
    log(`segments: ${split.map((s) => `${s.start}-${s.end}`).join(', ')}`);
    const cases: [string, () => Promise<number>][] = [
      ['main thread (as the runner)', () => copyRun((write) => encodeSegment(whole[0]!, write))],
      ['one worker, main thread sends', async () => copyRun(await inWorkers(whole))],
      [`${workers} workers over segments`, async () => copyRun(await inWorkers(split))],
    ];
    const times = new Map<string, number[]>();
    for (let r = 1; r <= rounds; r++) {
      for (const [name, go] of cases) {
        const s = await go();
        times.set(name, [...(times.get(name) ?? []), s]);
        log(`round ${r}: ${name}: ${s.toFixed(2)} s`);
      }
    }
    log(
      `\nCOPY phase of ${rows.toLocaleString('en')} rows into a typed temp table, wall seconds (median; all):`,
    );
    for (const [name, list] of times) {
      const sorted = [...list].sort((a, b) => a - b);
      log(
        `  ${name.padEnd(32)} ${sorted[(sorted.length - 1) >> 1]!.toFixed(2)}  (${list.map((s) => s.toFixed(2)).join(' ')})`,
      );
    }
  } finally {
    await client.end();
    await rm(ws.tmp, { recursive: true, force: true });
  }
}

/** The column names the parser gives the file: its header line, renamed by expectHeader. */
async function headerNames(file: string): Promise<string[]> {
  const handle = await open(file);
  const buf = Buffer.alloc(1 << 16);
  const { bytesRead } = await handle.read(buf, 0, buf.length, 0).finally(() => handle.close());
  const firstRecordEnd = Math.min(bytesRead, buf.indexOf(10, buf.indexOf(10) + 1) + 1);
  const { options, parse, context } = benchStages();
  const stream = createReadStream(file, { start: 0, end: firstRecordEnd - 1 });
  for await (const read of parse({ stream, origin: 'head' }, options, context)) {
    return read.batch.columns.map((c) => c.name);
  }
  throw new Error(`${file}: no header line`);
}
