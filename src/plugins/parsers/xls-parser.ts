import type { Readable } from 'node:stream';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineParser } from '../../core/plugin.js';
import {
  dateText,
  isDateFormat,
  missingSheet,
  notAWorkbook,
  numberText,
  pickSheet,
  serialToDate,
  SheetBatcher,
  sheetOptionFields,
} from './sheet-common.js';

const options = z.strictObject({
  ...sheetOptionFields,
  maxBytes: z
    .number()
    .int()
    .min(1)
    .default(100 * 1024 * 1024)
    .describe(
      'Largest file accepted, in bytes: a legacy .xls is read whole into memory, so a larger one fails ' +
        'instead. 100 MB by default.',
    ),
});

/** Error cells in BIFF, by code, for a cell that carries no text of its own. */
const ERRORS: Record<number, string> = {
  0x00: '#NULL!',
  0x07: '#DIV/0!',
  0x0f: '#VALUE!',
  0x17: '#REF!',
  0x1d: '#NAME?',
  0x24: '#NUM!',
  0x2a: '#N/A',
  0x2b: '#GETTING_DATA',
};

interface XlsCell {
  t?: string;
  v?: unknown;
  w?: string;
  z?: unknown;
}

/** Legacy Excel workbooks (.xls, BIFF), read whole by @e965/xlsx (SheetJS): a BIFF file cannot be streamed. */
export const xlsParser = defineParser({
  name: 'xls',
  summary:
    'Legacy Excel workbooks (.xls, BIFF5/8): one sheet, a header row, cached formula values, real dates.',
  options,
  async *parse(input, opts, context) {
    const bytes = await readAll(input.stream, opts.maxBytes, input.origin);
    if (!looksLikeWorkbook(bytes)) {
      throw notAWorkbook(input.origin, 'xls', new Error('it does not start like an Excel file'));
    }
    const XLSX = await import('@e965/xlsx');
    let workbook: ReturnType<typeof XLSX.read>;
    try {
      workbook = XLSX.read(bytes, {
        type: 'buffer',
        dense: true,
        cellNF: true,
        cellDates: false,
        cellHTML: false,
      });
    } catch (error) {
      throw notAWorkbook(input.origin, 'xls', error);
    }
    const name = pickSheet(workbook.SheetNames, opts.sheet);
    const sheet = name === undefined ? undefined : workbook.Sheets[name];
    if (name === undefined || sheet === undefined) {
      throw missingSheet(input.origin, opts.sheet ?? 1, workbook.SheetNames);
    }
    const date1904 = workbook.Workbook?.WBProps?.date1904 === true;
    const data = ((sheet as unknown as { '!data'?: (XlsCell | undefined)[][] })['!data'] ?? []) as (
      (XlsCell | undefined)[] | undefined
    )[];
    const batcher = new SheetBatcher(opts, input.origin, name);
    for (let r = 0; r < data.length; r++) {
      const cells = (data[r] ?? []).map((cell) => xlsCellText(cell, date1904));
      const batch = batcher.push({ number: r + 1, cells });
      if (batch) {
        if (context.signal.aborted) throw new SluiceError('ABORTED', `reading ${input.origin} was aborted`);
        yield batch;
      }
    }
    const last = batcher.finish();
    if (last) yield last;
  },
});

function xlsCellText(cell: XlsCell | undefined, date1904: boolean): string | null {
  if (cell === undefined || cell.v === undefined || cell.v === null) return null;
  switch (cell.t) {
    case 'n': {
      const v = cell.v as number;
      if (typeof cell.z === 'string' && isDateFormat(cell.z)) return dateText(serialToDate(v, date1904));
      return Number.isFinite(v) ? numberText(v) : null;
    }
    case 'b':
      return cell.v ? 'true' : 'false';
    case 'e':
      return cell.w ?? ERRORS[cell.v as number] ?? '#ERROR';
    case 'd':
      return cell.v instanceof Date ? dateText(cell.v) : String(cell.v as string);
    case 's': {
      const text = String(cell.v as string);
      return text === '' ? null : text;
    }
    default:
      return null;
  }
}

/** The whole file; refuses one larger than maxBytes before it fills the memory. */
async function readAll(stream: Readable, maxBytes: number, origin: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > maxBytes) {
      stream.destroy();
      throw new SluiceError('PARSE_FAILED', `${origin} is larger than parse.maxBytes (${maxBytes} bytes)`, {
        where: origin,
        hint: 'A legacy .xls is read whole into memory; raise parse.maxBytes if the machine has room for it, or save the file as .xlsx, which is streamed.',
      });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/**
 * A legacy Excel file: an OLE2 compound file (BIFF8, and BIFF5 inside one), a bare BIFF2–4 stream, a zip (an
 * .xlsx named .xls) or markup (the HTML or XML tables that many systems export under an .xls name). Plain
 * text such as a CSV would otherwise read as a one-sheet workbook.
 */
function looksLikeWorkbook(bytes: Buffer): boolean {
  if (bytes.length < 8) return false;
  if (bytes.readUInt32BE(0) === 0xd0cf11e0 && bytes.readUInt32BE(4) === 0xa1b11ae1) return true;
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return true;
  if (
    bytes[0] === 0x09 &&
    (bytes[1] === 0x00 || bytes[1] === 0x02 || bytes[1] === 0x04 || bytes[1] === 0x08)
  ) {
    return true;
  }
  const head = bytes
    .subarray(0, 512)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
  return head.startsWith('<');
}
