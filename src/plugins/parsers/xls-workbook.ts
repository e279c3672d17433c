import {
  dateText,
  isDateFormat,
  notAWorkbook,
  numberText,
  serialToDate,
  type SheetRow,
  type Workbook,
} from './sheet-common.js';

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

/**
 * A legacy workbook (.xls, BIFF) read whole by @e965/xlsx (SheetJS): a BIFF file cannot be streamed. Any
 * failure to read it is a PARSE_FAILED naming `origin`.
 */
export async function openXlsWorkbook(
  bytes: Buffer,
  origin: string,
  warn: (message: string) => void = () => {},
): Promise<Workbook> {
  if (!looksLikeWorkbook(bytes)) {
    const why = bytes.length === 0 ? 'the file is empty' : 'it does not start like an Excel file';
    throw notAWorkbook(origin, 'xls', new Error(why));
  }
  const XLSX = await import('@e965/xlsx');
  let workbook: ReturnType<typeof XLSX.read>;
  // SheetJS prints a line to stderr for each record it does not know (a damaged or unusual file); they are
  // counted here instead, and told once. XLSX.read is synchronous: nothing else runs while console.error is
  // swapped.
  let unknownRecords = 0;
  const consoleError = console.error;
  console.error = () => {
    unknownRecords++;
  };
  try {
    workbook = XLSX.read(bytes, {
      type: 'buffer',
      dense: true,
      cellNF: true,
      cellDates: false,
      cellHTML: false,
    });
  } catch (error) {
    throw notAWorkbook(origin, 'xls', error);
  } finally {
    console.error = consoleError;
  }
  if (unknownRecords > 0) {
    warn(`${origin} has ${unknownRecords} records the xls reader does not know: the file may be damaged`);
  }
  const date1904 = workbook.Workbook?.WBProps?.date1904 === true;
  return {
    sheetNames: workbook.SheetNames,
    async *rows(name: string): AsyncGenerator<SheetRow> {
      const sheet = workbook.Sheets[name] as
        { '!data'?: ((XlsCell | undefined)[] | undefined)[] } | undefined;
      const data = sheet?.['!data'] ?? [];
      for (let r = 0; r < data.length; r++) {
        const row = data[r];
        if (row === undefined) continue;
        const cells: (string | null)[] = new Array<string | null>(row.length);
        for (let c = 0; c < row.length; c++) cells[c] = xlsCellText(row[c], date1904);
        yield { number: r + 1, cells };
      }
    },
    close() {},
  };
}

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
