import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createCopyScratch, toCopyBytes } from '../src/connectors/postgres/copy-text.js';
import type { PluginContext } from '../src/core/plugin.js';
import { parsePipeline } from '../src/core/spec.js';
import { createRegistry } from '../src/plugins/index.js';
import { csvParser } from '../src/plugins/parsers/csv-parser.js';
import { createCheckStage } from '../src/runner/check-stage.js';
import { createWorkspace, pipelineYaml } from './bench-lib.js';
const ws = await createWorkspace(300000, () => {});
const registry = createRegistry();
const spec = parsePipeline(pipelineYaml({ name: 's', folder: ws.dataDir, table: 't', mode: 'append' }), { file: 's.yaml', env: process.env, registry });
const check = createCheckStage(spec.check!, registry);
const context = { logger: { debug() {}, info() {}, warn() {}, error() {} }, signal: new AbortController().signal, workDir: ws.tmp, dryRun: false } as unknown as PluginContext;
const batches: any[] = [];
for await (const read of csvParser.parse({ stream: createReadStream(ws.sluiceFile, { highWaterMark: 1 << 18 }), origin: 'x' }, spec.parse!.options as any, context)) batches.push(check(read).batch);
const cols = batches[0].columns as any[];
console.log(cols.map((c: any) => c.name ?? c));
const scratch = createCopyScratch();
for (let round = 0; round < 3; round++) {
  const out: string[] = [];
  for (let i = 0; i < cols.length; i++) {
    const t = process.cpuUsage();
    for (const b of batches) toCopyBytes(b.rows, [i], scratch);
    const u = process.cpuUsage(t);
    out.push(`${i}:${((u.user + u.system) / 1000).toFixed(0)}`);
  }
  const t = process.cpuUsage();
  for (const b of batches) toCopyBytes(b.rows, cols.map((_: any, i: number) => i), scratch);
  const u = process.cpuUsage(t);
  console.log(out.join(' '), 'all', ((u.user + u.system) / 1000).toFixed(0));
}
await rm(ws.tmp, { recursive: true, force: true });
