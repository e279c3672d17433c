import type { Writable } from 'node:stream';
import { createCsvWriter, type CsvWriterOptions } from './csv-writer.js';
import type { FileFormat, FormatWriter } from './format-writer.js';
import { createJsonlWriter } from './jsonl-writer.js';
import { createParquetWriter, type ParquetWriterOptions } from './parquet-writer.js';

export type { FileFormat, FormatWriter, WrittenFile } from './format-writer.js';
export type { ParquetCodec } from './parquet-writer.js';
export { zstdAvailable } from './parquet-writer.js';

export interface FormatOptions {
  csv?: CsvWriterOptions;
  parquet?: ParquetWriterOptions;
}

/** The file extension of a format (`data.parquet`, `data.jsonl`, `data.csv`). */
export function formatExtension(format: FileFormat): string {
  return format;
}

/**
 * A streaming writer of `format` onto `stream`: `write(columns, rows)` per batch, then `end()` for the
 * row count, byte count and SHA-256. The stream is ended by `end()`.
 */
export async function createFormatWriter(
  format: FileFormat,
  stream: Writable,
  options: FormatOptions = {},
): Promise<FormatWriter> {
  switch (format) {
    case 'csv':
      return createCsvWriter(stream, options.csv);
    case 'jsonl':
      return createJsonlWriter(stream);
    case 'parquet':
      return createParquetWriter(stream, options.parquet);
  }
}

export { createXlsxWriter, XLSX_MAX_ROWS, type XlsxWriter, type XlsxWriterOptions } from './xlsx-writer.js';
