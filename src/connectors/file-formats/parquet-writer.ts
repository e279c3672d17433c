import type { Writable } from 'node:stream';
import zlib from 'node:zlib';
import type { Column, Row } from '../../core/records.js';
import { CountingOutput, sameColumns, type FormatWriter, type WrittenFile } from './format-writer.js';
import { typedValue } from './typed-values.js';

/** Parquet compression: snappy (built into hyparquet-writer), zstd (Node's zlib, Node 22.15 and later), none. */
export type ParquetCodec = 'snappy' | 'zstd' | 'none';

export interface ParquetWriterOptions {
  codec?: ParquetCodec;
  /** Rows per row group: what the writer holds in memory before encoding (65 536 by default). */
  rowGroupRows?: number;
}

type HyparquetWriter = typeof import('hyparquet-writer');
type SchemaElement = NonNullable<Parameters<HyparquetWriter['parquetWriteBuffer']>[0]['schema']>[number];

/** True when this Node can write zstd Parquet (zlib gained zstd in Node 22.15). */
export function zstdAvailable(): boolean {
  return typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
}

/**
 * Parquet through hyparquet-writer, one row group per `rowGroupRows` rows: each group is encoded and handed
 * to the stream when it fills, so memory holds one group, not the file. Column types come from the
 * columns' `type` (integer → INT64, numeric → DOUBLE, boolean, date → DATE, timestamp → TIMESTAMP in UTC
 * microseconds, json → JSON, anything else → UTF-8 text); every column is nullable.
 */
export async function createParquetWriter(
  stream: Writable,
  options: ParquetWriterOptions = {},
): Promise<FormatWriter> {
  const { ByteWriter, ParquetWriter } = await import('hyparquet-writer');
  const codec = options.codec ?? 'snappy';
  if (codec === 'zstd' && !zstdAvailable())
    throw new Error(`zstd needs Node 22.15 or later (this is ${process.version}): use codec snappy`);
  const groupRows = options.rowGroupRows ?? 65_536;
  const out = new CountingOutput(stream);

  // The writer's buffer is handed out after each row group and reused: memory stays one group wide.
  class StreamingBytes extends ByteWriter {
    flush() {
      const chunk = new Uint8Array(this.buffer.slice(0, this.index));
      this.index = 0;
      return out.write(chunk);
    }
    override finish() {
      return this.flush() as unknown as void;
    }
  }
  const bytes = new StreamingBytes(1 << 16);
  let writer: InstanceType<typeof ParquetWriter> | undefined;
  let columns: readonly Column[] | undefined;
  let buffered: unknown[][] = [];
  let bufferedRows = 0;
  let rows = 0;

  const flushGroup = async () => {
    if (!columns || bufferedRows === 0) return;
    const columnData = columns.map((c, i) => ({ name: c.name, data: buffered[i]! }));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the library types want its DecodedArray
    await writer!.write({ columnData: columnData as any, rowGroupSize: bufferedRows });
    buffered = columns.map(() => []);
    bufferedRows = 0;
  };

  return {
    format: 'parquet',
    async write(batchColumns: readonly Column[], batchRows: readonly Row[]) {
      if (!columns) {
        columns = batchColumns;
        buffered = columns.map(() => []);
        writer = new ParquetWriter({
          writer: bytes,
          schema: [{ name: 'root', num_children: columns.length }, ...columns.map(schemaElement)],
          codec: codec === 'none' ? 'UNCOMPRESSED' : codec === 'zstd' ? 'ZSTD' : 'SNAPPY',
          ...(codec === 'zstd' ? { compressors: { ZSTD: zstdCompress } } : {}),
          createdBy: 'sluice',
        });
      } else sameColumns(columns, batchColumns);
      const cols = columns;
      for (const row of batchRows) {
        for (let i = 0; i < cols.length; i++) buffered[i]!.push(typedValue(cols[i]!, row[i] ?? null));
        if (++bufferedRows >= groupRows) await flushGroup();
      }
      rows += batchRows.length;
    },
    get pendingRows() {
      return bufferedRows;
    },
    flush: flushGroup,
    async end(): Promise<WrittenFile> {
      if (!writer) {
        // A file with no batch at all still is a valid Parquet file, of no columns.
        writer = new ParquetWriter({ writer: bytes, schema: [{ name: 'root', num_children: 0 }] });
      }
      await flushGroup();
      await writer.finish();
      return out.end(rows);
    },
  };
}

function zstdCompress(input: Uint8Array): Uint8Array {
  const compress = (zlib as unknown as { zstdCompressSync: (b: Uint8Array) => Buffer }).zstdCompressSync;
  return new Uint8Array(compress(input));
}

function schemaElement(column: Column): SchemaElement {
  const name = column.name;
  const repetition_type = 'OPTIONAL' as const;
  switch (column.type) {
    case 'integer':
    case 'bigint':
      return { name, repetition_type, type: 'INT64' };
    case 'numeric':
      return { name, repetition_type, type: 'DOUBLE' };
    case 'boolean':
      return { name, repetition_type, type: 'BOOLEAN' };
    case 'date':
      return { name, repetition_type, type: 'INT32', converted_type: 'DATE' };
    case 'timestamp':
      return {
        name,
        repetition_type,
        type: 'INT64',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
      };
    case 'json':
      return { name, repetition_type, type: 'BYTE_ARRAY', converted_type: 'JSON' };
    default:
      return { name, repetition_type, type: 'BYTE_ARRAY', converted_type: 'UTF8' };
  }
}
