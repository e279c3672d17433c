// Peak RSS while the xlsx parser reads a 200k-row workbook: the streaming reader should keep memory flat.
// Run: node --import tsx bench/xlsx-memory.ts [rows]
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeBigXlsx } from '../test/helpers/workbooks.js';
import { xlsxParser } from '../src/plugins/parsers/xlsx-parser.js';

const rows = Number(process.argv[2] ?? 200_000);
const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-xlsx-mem-'));
const file = path.join(dir, 'big.xlsx');

await writeBigXlsx(file, rows);
const size = (await stat(file)).size;

global.gc?.();
const base = process.memoryUsage().rss;
let peak = base;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const started = performance.now();
let count = 0;
const context = {
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir: dir,
};
for await (const { batch } of xlsxParser.parse(
  { stream: createReadStream(file), origin: 'big.xlsx' },
  xlsxParser.options.parse({}),
  context,
)) {
  count += batch.rows.length;
  peak = Math.max(peak, process.memoryUsage().rss);
}
clearInterval(timer);
const seconds = (performance.now() - started) / 1000;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
console.log(
  `${count} rows from ${mb(size)} of xlsx in ${seconds.toFixed(1)} s (${Math.round(count / seconds)} rows/s); ` +
    `RSS before parsing ${mb(base)}, peak ${mb(peak)}, growth ${mb(peak - base)}`,
);
await rm(dir, { recursive: true, force: true });
