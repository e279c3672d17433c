import type { Writable } from 'node:stream';
import type { Column, Row } from '../../core/records.js';
import { CountingOutput, sameColumns, type FormatWriter, type WrittenFile } from './format-writer.js';
import { textOf } from './typed-values.js';

export interface CsvWriterOptions {
  /** Field separator, `,` by default. */
  delimiter?: string;
  /** Write the column names as the first line (default true). */
  header?: boolean;
}

/** RFC 4180 CSV in UTF-8: a field is quoted when it holds the separator, a quote or a line break. */
export function createCsvWriter(stream: Writable, options: CsvWriterOptions = {}): FormatWriter {
  const out = new CountingOutput(stream);
  const delimiter = options.delimiter ?? ',';
  const needsQuotes = new RegExp(`["\\r\\n${delimiter.replace(/[\\^\]-]/g, '\\$&')}]`);
  const field = (text: string | null) =>
    text === null ? '' : needsQuotes.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  let columns: readonly Column[] | undefined;
  let rows = 0;
  return {
    format: 'csv',
    async write(batchColumns: readonly Column[], batchRows: readonly Row[]) {
      if (!columns) {
        columns = batchColumns;
        if (options.header ?? true)
          await out.write(`${columns.map((c) => field(c.name)).join(delimiter)}\r\n`);
      } else sameColumns(columns, batchColumns);
      let text = '';
      for (const row of batchRows) text += `${row.map((v) => field(textOf(v))).join(delimiter)}\r\n`;
      rows += batchRows.length;
      await out.write(text);
    },
    pendingRows: 0,
    async flush() {},
    async end(): Promise<WrittenFile> {
      return out.end(rows);
    },
  };
}
