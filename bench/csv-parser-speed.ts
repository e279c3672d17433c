/**
 * CSV parser throughput on 1M unquoted rows of 15 columns (~150 bytes each), streamed in 256 KiB chunks (as
 * the runner reads files) so that memory stays flat. The chunks come from a small pool generated up front,
 * so that the figure is the parser's and not the generator's.
 *
 *   node --import tsx bench/csv-parser-speed.ts [rows] [batchSize]
 *
 * Most of the time beyond parsing is young-generation GC: the batch being filled survives several
 * scavenges. A larger young generation (node --max-semi-space-size=32) or a smaller batch roughly doubles
 * the figure.
 */
import { Readable } from 'node:stream';
import { csvParser } from '../src/plugins/parsers/csv-parser.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const batchSize = Number(process.argv[3] ?? 10_000);
const columns = 15;
const poolSize = 16;

function row(r: number): string {
  // Ids, a timestamp, amounts, an address and short words, like an export of web visits.
  return (
    `${1000000 + r},2024-03-${String((r % 28) + 1).padStart(2, '0')} 12:${String(r % 60).padStart(2, '0')}:56,` +
    `${r % 9973}.${String(r % 100).padStart(2, '0')},visitor.${r % 50000}@example-mail.com,ES,Madrid,` +
    `Mozilla/5.0 (X11; Linux),${r % 7},active,web,${(r * 31) % 100000},campaign-${r % 40},` +
    `${r % 2 === 0 ? 'yes' : 'no'},${r % 13},/landing/page-${r % 300}`
  );
}

// Row-aligned chunks of about 256 KiB with distinct content, cycled to make the file.
const pool: { bytes: Buffer; rows: number }[] = [];
let next = 0;
for (let c = 0; c < poolSize; c++) {
  let text = '';
  let count = 0;
  while (text.length < 262144) {
    text += `${row(next++)}\n`;
    count++;
  }
  pool.push({ bytes: Buffer.from(text, 'utf8'), rows: count });
}
const bytesPerRow = pool.reduce((n, c) => n + c.bytes.length, 0) / next;

function* chunks(): Generator<Buffer> {
  yield Buffer.from(`${Array.from({ length: columns }, (_, i) => `col_${i + 1}`).join(',')}\n`);
  let left = rows;
  for (let c = 0; left > 0; c = (c + 1) % poolSize) {
    const chunk = pool[c]!;
    if (chunk.rows <= left) {
      yield chunk.bytes;
      left -= chunk.rows;
    } else {
      const text = chunk.bytes.toString('utf8').split('\n').slice(0, left).join('\n');
      yield Buffer.from(`${text}\n`);
      left = 0;
    }
  }
}

const context = {
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir: '.',
};
const options = csvParser.options.parse({ batchSize });

const start = performance.now();
let parsed = 0;
let rejected = 0;
const stream = Readable.from(chunks(), { objectMode: false });
for await (const result of csvParser.parse({ stream, origin: 'bench.csv' }, options, context)) {
  if (result.batch.columns.length !== columns) throw new Error('wrong column count');
  parsed += result.batch.rows.length;
  rejected += result.rejectedRows;
}
const seconds = (performance.now() - start) / 1000;
if (parsed !== rows || rejected !== 0)
  throw new Error(`expected ${rows} rows, parsed ${parsed} (${rejected} rejected)`);
console.log(
  `${parsed.toLocaleString('en')} rows of ${columns} columns (~${Math.round(bytesPerRow)} bytes), ` +
    `batches of ${batchSize}, in ` +
    `${seconds.toFixed(2)} s: ${Math.round(parsed / seconds).toLocaleString('en')} rows/s, ` +
    `${((parsed * bytesPerRow) / seconds / 1e6).toFixed(0)} MB/s; ` +
    `RSS at the end ${Math.round(process.memoryUsage().rss / 1e6)} MB`,
);
