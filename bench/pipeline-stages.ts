/**
 * Node's share of a load, without a database: the generated visits report through the csv parser, the
 * checks of the bench pipeline and the COPY writer, in this process, with the CPU time of each stage. Many
 * passes, minimum and median: on a machine whose speed moves by ±15 %, the minimum of many in-process
 * passes is what tells a change to these stages from noise (see bench/README.md, "Where the time goes").
 *
 *   node --max-semi-space-size=32 --import tsx bench/pipeline-stages.ts [passes]   (default 8)
 *   BENCH_ROWS=1000000                                                            rows to generate
 *
 * It measures the sources through tsx; compare two versions of the code in the same session.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createCopyScratch, toCopyBytes } from '../src/connectors/postgres/copy-text.js';
import type { PluginContext } from '../src/core/plugin.js';
import { parsePipeline } from '../src/core/spec.js';
import { createRegistry } from '../src/plugins/index.js';
import { csvParser } from '../src/plugins/parsers/csv-parser.js';
import { createCheckStage } from '../src/runner/check-stage.js';
import { createWorkspace, pipelineYaml } from './bench-lib.js';
import { DEFAULT_GENERATE } from './visits-data.js';

const PASSES = Math.max(1, Number(process.argv[2] ?? 8));
const ROWS = Number(process.env.BENCH_ROWS ?? DEFAULT_GENERATE.rows);

interface Pass {
  rows: number;
  parseMs: number;
  checkMs: number;
  copyMs: number;
  totalMs: number;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const ws = await createWorkspace(ROWS, log);
try {
  const registry = createRegistry();
  const yaml = pipelineYaml({ name: 'stages', folder: ws.dataDir, table: 't', mode: 'append' });
  const spec = parsePipeline(yaml, { file: 'stages.yaml', env: process.env, registry });
  if (!spec.parse || !spec.check) throw new Error('the bench pipeline has parse: and check:');
  const parseOptions = spec.parse.options as Parameters<typeof csvParser.parse>[1];
  const check = createCheckStage(spec.check, registry);
  const context = {
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    workDir: ws.tmp,
    dryRun: false,
  } as unknown as PluginContext;

  const pass = async (): Promise<Pass> => {
    const scratch = createCopyScratch();
    const stream = createReadStream(ws.sluiceFile, { highWaterMark: 1 << 18 });
    const result: Pass = { rows: 0, parseMs: 0, checkMs: 0, copyMs: 0, totalMs: 0 };
    let mark = process.cpuUsage();
    const lap = () => {
      const used = process.cpuUsage(mark);
      mark = process.cpuUsage();
      return (used.user + used.system) / 1000;
    };
    for await (const read of csvParser.parse({ stream, origin: 'report_bench.txt' }, parseOptions, context)) {
      result.parseMs += lap();
      const checked = check(read);
      result.checkMs += lap();
      result.rows += checked.batch.rows.length;
      toCopyBytes(
        checked.batch.rows,
        checked.batch.columns.map((_, i) => i),
        scratch,
      );
      result.copyMs += lap();
    }
    result.totalMs = result.parseMs + result.checkMs + result.copyMs;
    return result;
  };

  const passes: Pass[] = [];
  for (let i = 1; i <= PASSES; i++) {
    const p = await pass();
    passes.push(p);
    log(
      `pass ${i}: ${p.rows.toLocaleString('en')} rows kept; CPU ms parse ${p.parseMs.toFixed(0)}, checks ` +
        `${p.checkMs.toFixed(0)}, COPY bytes ${p.copyMs.toFixed(0)}, total ${p.totalMs.toFixed(0)}`,
    );
  }
  const stat = (key: keyof Pass) => {
    const sorted = passes.map((p) => p[key]).sort((a, b) => a - b);
    return `${sorted[0]!.toFixed(0)} / ${sorted[(sorted.length - 1) >> 1]!.toFixed(0)}`;
  };
  log(`\nCPU ms per stage, minimum / median of ${PASSES} passes (${ROWS.toLocaleString('en')} rows):`);
  log(`  csv parsing (with UTF-8 decoding)  ${stat('parseMs')}`);
  log(`  checks                              ${stat('checkMs')}`);
  log(`  COPY bytes (toCopyBytes)            ${stat('copyMs')}`);
  log(`  total                               ${stat('totalMs')}`);
} finally {
  await rm(ws.tmp, { recursive: true, force: true });
}
