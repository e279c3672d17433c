import { Readable } from 'node:stream';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineParser } from '../../core/plugin.js';
import {
  cellText,
  isDateFormat,
  missingSheet,
  notAWorkbook,
  pickSheet,
  serialToDate,
  SheetBatcher,
  sheetOptionFields,
  type SheetRow,
} from './sheet-common.js';

const options = z.strictObject(sheetOptionFields);

// The parts of exceljs's streaming reader used here; its typings omit the sheet's name and the workbook's
// properties, which the reader has once it read xl/workbook.xml.
interface StreamCell {
  value: unknown;
  numFmt?: unknown;
}
interface StreamRow {
  number: number;
  eachCell(opts: { includeEmpty: boolean }, fn: (cell: StreamCell, col: number) => void): void;
}
interface StreamSheet extends AsyncIterable<StreamRow> {
  name?: string;
  /** The sheet's XML: a zip entry's iterator, or a temporary file's stream when the sheet came early. */
  iterator?: unknown;
}
interface StreamWorkbook extends AsyncIterable<StreamSheet> {
  model?: { sheets?: { name: string }[] };
  properties?: { model?: { date1904?: boolean } };
}
interface ExcelJsModule {
  stream: {
    xlsx: { WorkbookReader: new (input: Readable, options: Record<string, string>) => StreamWorkbook };
  };
}

/** Excel 2007+ workbooks (.xlsx), streamed row by row: memory stays flat however long the sheet. */
export const xlsxParser = defineParser({
  name: 'xlsx',
  summary: 'Excel workbooks (.xlsx), streamed: one sheet, a header row, cached formula values, real dates.',
  options,
  async *parse(input, opts, context) {
    const mod = (await import('exceljs')) as unknown as ExcelJsModule & { default?: ExcelJsModule };
    const excel = mod.default ?? mod;
    const stream = await zipOrFail(input.stream, input.origin);
    const reader = new excel.stream.xlsx.WorkbookReader(stream, {
      worksheets: 'emit',
      sharedStrings: 'cache',
      // Styles hold the number formats that tell a date from a number.
      styles: 'cache',
      hyperlinks: 'ignore',
      entries: 'ignore',
    });
    const seen: string[] = [];
    let found = false;
    try {
      for await (const sheet of reader) {
        const name = sheet.name ?? `Sheet${seen.length + 1}`;
        seen.push(name);
        // Sheets arrive in the order of their parts in the zip; the workbook's own order decides positions.
        const names = reader.model?.sheets?.map((s) => s.name) ?? seen;
        if (found || name !== pickSheet(names, opts.sheet)) {
          skip(sheet);
          continue;
        }
        found = true;
        const date1904 = reader.properties?.model?.date1904 === true;
        const batcher = new SheetBatcher(opts, input.origin, name);
        for await (const row of sheet) {
          const batch = batcher.push(readRow(row, date1904));
          if (batch) {
            if (context.signal.aborted) {
              throw new SluiceError('ABORTED', `reading ${input.origin} was aborted`);
            }
            yield batch;
          }
        }
        const last = batcher.finish();
        if (last) yield last;
        // The loop goes on to the end of the zip, so that the input stream is read to its end.
      }
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw notAWorkbook(input.origin, 'xlsx', error);
    }
    if (!found) {
      if (reader.model === undefined && seen.length === 0) {
        throw notAWorkbook(input.origin, 'xlsx', new Error('no workbook part found in the file'));
      }
      throw missingSheet(input.origin, opts.sheet ?? 1, reader.model?.sheets?.map((s) => s.name) ?? seen);
    }
  },
});

function readRow(row: StreamRow, date1904: boolean): SheetRow {
  const cells: (string | null)[] = [];
  row.eachCell({ includeEmpty: false }, (cell, col) => {
    const value = cell.value;
    // exceljs turns date-formatted numbers into Dates, but not the cached results of formulas.
    if (
      value !== null &&
      typeof value === 'object' &&
      'result' in value &&
      typeof value.result === 'number' &&
      typeof cell.numFmt === 'string' &&
      isDateFormat(cell.numFmt)
    ) {
      cells[col - 1] = cellText(serialToDate(value.result, date1904));
    } else {
      cells[col - 1] = cellText(value);
    }
  });
  return { number: row.number, cells };
}

/**
 * Leaves a sheet unparsed. A sheet that came before the shared strings waits in a temporary file whose
 * stream is already opening, and exceljs deletes the file next: that stream is closed here, or its late
 * ENOENT would be an uncaught error.
 */
function skip(sheet: StreamSheet): void {
  const it = sheet.iterator;
  if (it instanceof Readable) {
    it.on('error', () => {});
    it.destroy();
  }
}

const ZIP_SIGNATURE = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/**
 * The input with its first bytes checked: unzipper waits forever on bytes that are not a zip, so a file
 * that is not one fails here, by name.
 */
async function zipOrFail(input: Readable, origin: string): Promise<Readable> {
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let head = Buffer.alloc(0);
  while (head.length < ZIP_SIGNATURE.length) {
    const next = await chunks.next();
    if (next.done) break;
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head = Buffer.concat([head, chunk]);
  }
  if (head.length < ZIP_SIGNATURE.length || !head.subarray(0, 4).equals(ZIP_SIGNATURE)) {
    input.destroy();
    const why = head.length === 0 ? 'the file is empty' : 'it is not a zip file, as every .xlsx is';
    throw notAWorkbook(origin, 'xlsx', new Error(why));
  }
  async function* rest(): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const next = await chunks.next();
      if (next.done) return;
      yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    }
  }
  return Readable.from(rest(), { objectMode: false });
}
