import type { Writable } from 'node:stream';
import { createLineWriter, type FormatWriter } from './format-writer.js';
import { textOf } from './typed-values.js';

export interface CsvWriterOptions {
  /** Field separator, `,` by default. */
  delimiter?: string;
  /** Write the column names as the first line (default true). */
  header?: boolean;
}

/** RFC 4180 CSV in UTF-8: a field is quoted when it holds the separator, a quote or a line break. */
export function createCsvWriter(stream: Writable, options: CsvWriterOptions = {}): FormatWriter {
  const delimiter = options.delimiter ?? ',';
  const needsQuotes = new RegExp(`["\\r\\n${delimiter.replace(/[\\^\]-]/g, '\\$&')}]`);
  const field = (text: string | null) =>
    text === null ? '' : needsQuotes.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  const line = (texts: (string | null)[]) => `${texts.map(field).join(delimiter)}\r\n`;
  return createLineWriter('csv', stream, {
    line: (_columns, row) => line(row.map(textOf)),
    ...(options.header === false ? {} : { header: (columns) => line(columns.map((c) => c.name)) }),
  });
}
