/**
 * The reference of bench/lake.ts: the same CSV rows written with hyparquet-writer alone — lines split on
 * `,`, values typed (text, timestamp, double), one Parquet file in snappy row groups of 65 536 rows, as the
 * lake loader writes them — with no checks, ledger, partitions or manifest.
 * Run: node --import tsx bench/lake-reference.ts INPUT.csv OUTPUT.parquet
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createParquetWriter } from '../src/connectors/file-formats/parquet-writer.js';
import type { Column, Row } from '../src/core/records.js';

const [input, output] = process.argv.slice(2) as [string, string];
const columns: Column[] = [
  { name: 'internal_series_code', type: 'text' },
  { name: 'obs_time', type: 'timestamp' },
  { name: 'value', type: 'numeric' },
];
const writer = await createParquetWriter(createWriteStream(output));
let batch: Row[] = [];
let header = true;
for await (const line of createInterface({ input: createReadStream(input), crlfDelay: Infinity })) {
  if (header) {
    header = false;
    continue;
  }
  batch.push(line.split(','));
  if (batch.length === 10_000) {
    await writer.write(columns, batch);
    batch = [];
  }
}
if (batch.length > 0) await writer.write(columns, batch);
const written = await writer.end();
process.stdout.write(`${JSON.stringify(written)}\n`);
