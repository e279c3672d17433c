import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import type { BatchResult } from '../../core/plugin.js';
import {
  cellText,
  compileExpected,
  expectHeaderOption,
  headerProblem,
  type ExpectedColumn,
  batchSizeOption,
} from './layout.js';
import { BatchBuilder } from './batch-builder.js';

// What the xlsx and xls parsers share: their options, the cell → text conversion and the layout rules
// (header row, rows skipped, column range, expected header, field count), so that both read a sheet alike.

const columnRange = z
  .string()
  .regex(/^[A-Za-z]{1,3}:[A-Za-z]{1,3}$/, 'a column range such as "A:F"')
  .refine((range) => {
    const [from, to] = parseColumnRange(range);
    return from <= to && to <= 16_384;
  }, 'the range must run left to right, within column XFD')
  .describe('The columns to read, such as "A:F"; cells outside them are ignored. All columns by default.');

/** Options of every spreadsheet parser. */
export const sheetOptionFields = {
  sheet: z
    .union([z.string().min(1), z.number().int().min(1)])
    .optional()
    .describe(
      'The sheet to read: its name, or its position (1 is the first sheet). The first sheet by default.',
    ),
  headerRow: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe('The row that holds the column names (1 is the first row); rows above it are ignored.'),
  skipRows: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Rows to skip right after the header row (units, notes) before the data starts.'),
  columns: columnRange.optional(),
  expectHeader: expectHeaderOption,
  batchSize: batchSizeOption,
};

/** The shared options, as parsed. */
export type SheetOptions = z.output<z.ZodObject<typeof sheetOptionFields>>;

/** A column letter (A, Z, AA, XFD) as a 1-based position. */
export function columnNumber(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

/** "A:F" as the 1-based first and last columns. */
export function parseColumnRange(range: string): [number, number] {
  const [from = '', to = ''] = range.split(':');
  return [columnNumber(from), columnNumber(to)];
}

// ---- cells -----------------------------------------------------------------------------------------

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * A date as text: `YYYY-MM-DD` at midnight, `YYYY-MM-DD HH:MM:SS` otherwise, rounded to the nearest second
 * (serial dates are binary fractions of a day: 00:00:01 reads back as 00:00:00.999). The date's UTC fields
 * are the wall-clock time written in the sheet.
 */
export function dateText(date: Date): string {
  const d = new Date(Math.round(date.getTime() / 1000) * 1000);
  if (Number.isNaN(d.getTime())) return '';
  const day = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const h = d.getUTCHours();
  const m = d.getUTCMinutes();
  const s = d.getUTCSeconds();
  return h === 0 && m === 0 && s === 0 ? day : `${day} ${pad(h)}:${pad(m)}:${pad(s)}`;
}

/** Days from the epoch of each date system to 1970-01-01 (Excel's 1900 system counts the 1900-02-29 Lotus bug in). */
const EPOCH_1900 = 25569;
const EPOCH_1904 = 24107;

/** An Excel serial date (days since the workbook's epoch) as a Date whose UTC fields are the wall-clock time. */
export function serialToDate(serial: number, date1904: boolean): Date {
  const days = serial - (date1904 ? EPOCH_1904 : EPOCH_1900);
  return new Date(Math.round(days * 86_400) * 1000);
}

/**
 * True when a number format shows a date or time (`yyyy-mm-dd`, `d/m/yy h:mm`, `[h]:mm`), false for
 * numbers, percentages, currencies and text. Quoted text, escapes and [colour] tags do not count.
 */
export function isDateFormat(format: string | undefined): boolean {
  if (!format || format === 'General' || format === '@') return false;
  const bare = format
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/_./g, '')
    .replace(/\*./g, '')
    .replace(/\[(?![hms]+\])[^\]]*\]/gi, '');
  return /[dmyhs]/i.test(bare) && !/^[#0.,%\s]*$/.test(bare);
}

/** A number as JS prints it, without an exponent for integers. */
export function numberText(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) >= 1e21) return BigInt(n).toString();
  return String(n);
}

// ---- rows → batches --------------------------------------------------------------------------------

/** One spreadsheet row: its 1-based number and its cells as text, `cells[0]` being column A. */
export interface SheetRow {
  number: number;
  cells: (string | null)[];
}

/** A workbook opened for reading, whichever its format. */
export interface Workbook {
  /** In the workbook's order. */
  sheetNames: string[];
  /**
   * The rows of a sheet in ascending order, each with its cells as text (null for an empty cell; a row may
   * be shorter than the sheet). Rows with no cell may be left out. Failures are PARSE_FAILED errors.
   */
  rows(sheet: string): AsyncIterable<SheetRow>;
  close(): void;
}

/**
 * The batches of the sheet that `opts.sheet` picks, read with the layout contract of the parsers. The
 * workbook is closed at the end.
 */
export async function* sheetBatches(
  workbook: Workbook,
  opts: SheetOptions,
  origin: string,
  signal: AbortSignal,
): AsyncGenerator<BatchResult> {
  try {
    const name = pickSheet(workbook.sheetNames, opts.sheet);
    if (name === undefined) throw missingSheet(origin, opts.sheet ?? 1, workbook.sheetNames);
    const batcher = new SheetBatcher(opts, origin, name);
    for await (const row of workbook.rows(name)) {
      const batch = batcher.push(row);
      if (batch) {
        if (signal.aborted) throw new SluiceError('ABORTED', `reading ${origin} was aborted`);
        yield batch;
      }
    }
    const last = batcher.finish();
    if (last) yield last;
  } finally {
    workbook.close();
  }
}

/** One cell's text of the sheet `opts.sheet` picks (1-based row and column); the workbook is closed. */
export async function sheetCell(
  workbook: Workbook,
  opts: SheetOptions,
  origin: string,
  cell: { row: number; column: number },
): Promise<string | undefined> {
  try {
    const name = pickSheet(workbook.sheetNames, opts.sheet);
    if (name === undefined) throw missingSheet(origin, opts.sheet ?? 1, workbook.sheetNames);
    for await (const row of workbook.rows(name)) {
      if (row.number === cell.row) return cellText(row.cells[cell.column - 1]);
      if (row.number > cell.row) return undefined;
    }
    return undefined;
  } finally {
    workbook.close();
  }
}

/**
 * Turns the rows of a sheet into batches, with the same layout contract as the csv parser: the header row
 * names the columns (or must match expectHeader), blank rows are skipped, trailing blank cells are ignored,
 * and a row with a value right of the last header column is a `fieldCount` reject.
 */
export class SheetBatcher {
  private readonly expected: ExpectedColumn[] | undefined;
  private readonly first: number;
  private readonly last: number;
  private names: string[] | undefined;
  private width = 0;
  private readonly batch: BatchBuilder;

  constructor(
    private readonly opts: SheetOptions,
    private readonly origin: string,
    private readonly sheetName: string,
  ) {
    this.expected = opts.expectHeader ? compileExpected(opts.expectHeader) : undefined;
    this.batch = new BatchBuilder(origin, opts.batchSize);
    const [first, last] = opts.columns ? parseColumnRange(opts.columns) : [1, Infinity];
    this.first = first;
    this.last = last;
  }

  /** Takes one row; returns a batch when one is full. Rows must come in ascending order. */
  push(row: SheetRow): BatchResult | undefined {
    if (row.number < this.opts.headerRow) return undefined;
    if (this.names === undefined) {
      this.takeHeader(row);
      return undefined;
    }
    if (row.number <= this.opts.headerRow + this.opts.skipRows) return undefined;
    const cells = this.trimmed(row.cells);
    if (cells.length === 0) return undefined;
    const raw = cells.map((c) => c ?? '').join(',');
    let full: boolean;
    if (cells.length > this.width) {
      const message = `expected ${this.width} fields, found ${cells.length}`;
      full = this.batch.addReject(row.number, 'fieldCount', message, raw);
    } else {
      while (cells.length < this.width) cells.push(null);
      full = this.batch.addRow(cells, row.number, raw);
    }
    return full ? this.batch.build(this.names ?? []) : undefined;
  }

  /** The last batch: at least one per file, so that the loader learns the columns. */
  finish(): BatchResult | undefined {
    if (this.names === undefined) {
      throw new SluiceError(
        'FILE_EMPTY',
        `sheet "${this.sheetName}" has no header: row ${this.opts.headerRow} is empty or missing`,
        { where: `${this.origin}:${this.opts.headerRow}`, hint: 'Check parse.sheet and parse.headerRow.' },
      );
    }
    return this.batch.build(this.names, true);
  }

  /** The row's cells inside the column range, without trailing empty cells. */
  private trimmed(cells: (string | null)[]): (string | null)[] {
    const inRange = cells.slice(this.first - 1, this.last === Infinity ? undefined : this.last);
    let end = inRange.length;
    while (end > 0 && inRange[end - 1] == null) end--;
    inRange.length = end;
    for (let i = 0; i < end; i++) if (inRange[i] === undefined) inRange[i] = null;
    return inRange;
  }

  private takeHeader(row: SheetRow): void {
    const cells = this.trimmed(row.cells);
    // An empty row is usually not in the file at all: the first row at or below headerRow must be it.
    if (row.number !== this.opts.headerRow || cells.length === 0) {
      throw new SluiceError('LAYOUT_MISMATCH', `the header row ${this.opts.headerRow} is empty`, {
        where: `${this.origin}:${this.opts.headerRow}`,
        hint: 'Check parse.sheet and parse.headerRow.',
      });
    }
    const texts = cells.map((c) => c ?? '');
    if (this.expected) {
      const problem = headerProblem(texts, this.expected);
      if (problem) {
        throw new SluiceError('LAYOUT_MISMATCH', `sheet "${this.sheetName}": ${problem}`, {
          where: `${this.origin}:${row.number}`,
        });
      }
      this.names = this.expected.map((e) => e.name);
    } else {
      // A blank header cell between named ones still gets a name, as a header-less csv column would.
      this.names = texts.map((t, i) => (t.trim() === '' ? `column_${this.first + i}` : t.trim()));
    }
    this.width = this.names.length;
  }
}

/** A missing sheet, naming the sheets there are. */
export function missingSheet(origin: string, wanted: string | number, sheets: string[]): SluiceError {
  const which = typeof wanted === 'number' ? `sheet ${wanted}` : `sheet "${wanted}"`;
  const there =
    sheets.length === 0
      ? 'the workbook has no sheets'
      : `its sheets are ${sheets.map((s) => `"${s}"`).join(', ')}`;
  return new SluiceError('LAYOUT_MISMATCH', `${which} is not in the workbook: ${there}`, {
    where: origin,
    hint: 'Set parse.sheet to one of the sheet names, or to a position (1 is the first sheet).',
  });
}

/** Which of `names` (in workbook order) the sheet option picks, or undefined. */
export function pickSheet(names: string[], wanted: string | number | undefined): string | undefined {
  if (wanted === undefined) return names[0];
  if (typeof wanted === 'number') return names[wanted - 1];
  return (
    names.find((n) => n === wanted) ??
    names.find((n) => n.trim().toLowerCase() === wanted.trim().toLowerCase())
  );
}

/** Wraps a library's error about a broken file. */
export function notAWorkbook(origin: string, kind: string, cause: unknown): SluiceError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new SluiceError('PARSE_FAILED', `${origin} is not a readable ${kind} workbook${detail}`, {
    where: origin,
    cause,
    hint: 'Check that the file is a spreadsheet of this kind, whole (not cut short) and not password-protected.',
  });
}
