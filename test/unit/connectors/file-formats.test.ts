import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFormatWriter, type FileFormat } from '../../../src/connectors/file-formats/index.js';
import type { Column, Row } from '../../../src/core/records.js';

const columns: Column[] = [
  { name: 'series', type: 'text' },
  { name: 'obs_time', type: 'timestamp' },
  { name: 'day', type: 'date' },
  { name: 'value', type: 'numeric' },
  { name: 'count', type: 'integer' },
  { name: 'ok', type: 'boolean' },
  { name: 'note' },
];
const rows = (from: number, n: number): Row[] =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return [
      `S${i % 3}`,
      `2026-01-${String((i % 28) + 1).padStart(2, '0')} 10:00:00+00`,
      `2026-01-${String((i % 28) + 1).padStart(2, '0')}`,
      String(i + 0.5),
      String(i),
      i % 2 === 0 ? 'true' : 'false',
      i === 1 ? 'a "quoted", multi\nline note' : null,
    ];
  });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-formats-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeFile(format: FileFormat, batches: number, perBatch: number, rowGroupRows?: number) {
  const file = path.join(dir, `out-${batches}x${perBatch}.${format}`);
  const writer = await createFormatWriter(format, createWriteStream(file), {
    ...(rowGroupRows ? { parquet: { rowGroupRows } } : {}),
  });
  for (let b = 0; b < batches; b++) await writer.write(columns, rows(b * perBatch, perBatch));
  const written = await writer.end();
  const bytes = await readFile(file);
  expect(written.bytes).toBe(bytes.length);
  expect(written.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  expect(written.rows).toBe(batches * perBatch);
  return { file, bytes };
}

describe('format writers', () => {
  it('writes Parquet in row groups that read back with their types', async () => {
    const { bytes } = await writeFile('parquet', 5, 1000, 1500);
    const { parquetMetadata, parquetReadObjects } = await import('hyparquet');
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    const meta = parquetMetadata(buffer);
    expect(meta.row_groups.length).toBe(4); // 5000 rows in groups of 1500
    expect(meta.row_groups[0]!.columns[0]!.meta_data?.codec).toBe('SNAPPY');
    const read = await parquetReadObjects({ file: buffer });
    expect(read.length).toBe(5000);
    expect(read[1]).toEqual({
      series: 'S1',
      obs_time: new Date('2026-01-02T10:00:00Z'),
      day: new Date('2026-01-02T00:00:00Z'),
      value: 1.5,
      count: 1n,
      ok: false,
      note: 'a "quoted", multi\nline note',
    });
    expect(read[4999]!.count).toBe(4999n);
  });

  it('writes JSON lines with typed values and CSV quoted as RFC 4180', async () => {
    const jsonl = await writeFile('jsonl', 2, 3);
    const lines = jsonl.bytes.toString('utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(JSON.parse(lines[1]!)).toEqual({
      series: 'S1',
      obs_time: '2026-01-02T10:00:00.000Z',
      day: '2026-01-02',
      value: 1.5,
      count: 1,
      ok: false,
      note: 'a "quoted", multi\nline note',
    });
    const csv = await writeFile('csv', 1, 2);
    expect(csv.bytes.toString('utf8')).toBe(
      'series,obs_time,day,value,count,ok,note\r\n' +
        'S0,2026-01-01 10:00:00+00,2026-01-01,0.5,0,true,\r\n' +
        'S1,2026-01-02 10:00:00+00,2026-01-02,1.5,1,false,"a ""quoted"", multi\nline note"\r\n',
    );
  });

  it('refuses a batch with other columns than the first', async () => {
    const writer = await createFormatWriter('jsonl', createWriteStream(path.join(dir, 'mixed.jsonl')));
    await writer.write(columns, rows(0, 1));
    await expect(writer.write([{ name: 'other' }], [['x']])).rejects.toThrow(/one set of columns/);
    await writer.end();
  });
});
