import { createHash } from 'node:crypto';
import { Transform, type Writable } from 'node:stream';
import type { Column, Row } from '../../core/records.js';
import { sameColumns, type FormatWriter, type WrittenFile } from './format-writer.js';
import { typedValue } from './typed-values.js';

/** The most rows a worksheet holds, the header included (Excel's limit). */
export const XLSX_MAX_ROWS = 1_048_576;

/** A streaming XLSX writer: {@link FormatWriter} with the `xlsx` format. */
export type XlsxWriter = Omit<FormatWriter, 'format'> & { readonly format: 'xlsx' };

export interface XlsxWriterOptions {
  /** The worksheet's name (`Sheet1` by default). */
  sheet?: string;
}

/**
 * XLSX through exceljs's streaming writer: each row is committed as it is written, so memory holds the
 * rows of a batch, not the sheet. One worksheet, the column names as its first row; numbers and booleans
 * as such, dates and timestamps as Excel dates (UTC), integers beyond 2^53 and everything else as text.
 */
export async function createXlsxWriter(
  stream: Writable,
  options: XlsxWriterOptions = {},
): Promise<XlsxWriter> {
  const { default: ExcelJS } = await import('exceljs');
  const hash = createHash('sha256');
  let bytes = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  counting.pipe(stream);
  const finished = new Promise<void>((resolve, reject) => {
    stream.once('finish', resolve);
    stream.once('error', reject);
    counting.once('error', reject);
  });
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: counting,
    useStyles: true,
    useSharedStrings: false,
  });
  const sheet = workbook.addWorksheet(options.sheet ?? 'Sheet1');
  let columns: readonly Column[] | undefined;
  let rows = 0;
  const cell = (column: Column, value: Row[number]) => {
    const typed = typedValue(column, value ?? null);
    if (typeof typed === 'bigint')
      return Number.isSafeInteger(Number(typed)) ? Number(typed) : typed.toString();
    return typed;
  };
  return {
    format: 'xlsx',
    async write(batchColumns: readonly Column[], batchRows: readonly Row[]) {
      if (!columns) {
        columns = batchColumns;
        sheet.columns = columns.map((c) => ({
          header: c.name,
          key: c.name,
          ...(c.type === 'date'
            ? { style: { numFmt: 'yyyy-mm-dd' } }
            : c.type === 'timestamp'
              ? { style: { numFmt: 'yyyy-mm-dd hh:mm:ss' } }
              : {}),
        }));
      } else sameColumns(columns, batchColumns);
      if (rows + batchRows.length + 1 > XLSX_MAX_ROWS)
        throw new Error(
          `an XLSX sheet holds at most ${XLSX_MAX_ROWS - 1} rows below its header: export CSV, JSON lines or Parquet`,
        );
      const cols = columns;
      for (const row of batchRows) sheet.addRow(cols.map((c, i) => cell(c, row[i] ?? null))).commit();
      rows += batchRows.length;
      // Let the rows committed so far flow out before the next batch comes.
      await new Promise((resolve) => setImmediate(resolve));
    },
    pendingRows: 0, // each row is committed as it is added
    async flush() {},
    async end(): Promise<WrittenFile> {
      if (!columns) sheet.columns = [];
      sheet.commit();
      await workbook.commit();
      await finished;
      return { rows, bytes, sha256: hash.digest('hex') };
    },
  };
}
