import { open } from 'node:fs/promises';
import { SluiceError } from '../../core/errors.js';
import {
  dateText,
  isDateFormat,
  notAWorkbook,
  numberText,
  serialToDate,
  type SheetRow,
  type Workbook,
} from './sheet-common.js';
import { attribute, feedXml, readXml } from './xml-events.js';
import { openZipParts, resolvePart, type ZipParts } from './zip-parts.js';

// An .xlsx read part by part: the workbook (sheet names and where they are, the date system), the shared
// strings and the styles first, then one sheet's XML streamed row by row. Every cell is read with its type
// from the sheet XML (`t="b"`, `t="e"`, `t="s"`, …): a boolean stays true/false and a formula error stays
// #N/A, #DIV/0!, …, never a number or an empty cell, as a legacy .xls of the same workbook reads.

/** Built-in number formats that show dates or times (ECMA-376 §18.8.30; 27–36 and 50–58 are East Asian dates). */
const BUILT_IN_DATE_FORMATS = new Set([
  14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52, 53, 54,
  55, 56, 57, 58,
]);

const RELATIONSHIP = {
  officeDocument: '/officeDocument',
  sharedStrings: '/sharedStrings',
  styles: '/styles',
} as const;

interface SheetEntry {
  name: string;
  part: string | undefined;
}

/** Opens an .xlsx file: any failure to read its zip or its workbook parts is a PARSE_FAILED naming `origin`. */
export async function openXlsxWorkbook(file: string, origin: string): Promise<Workbook> {
  await checkSignature(file, origin);
  let zip: ZipParts;
  try {
    zip = await openZipParts(file);
  } catch (error) {
    throw notAWorkbook(origin, 'xlsx', new Error(`the zip is damaged or cut short (${errorText(error)})`));
  }
  try {
    const workbookPart = (await officeDocument(zip)) ?? 'xl/workbook.xml';
    if (!zip.has(workbookPart)) throw new Error('it has no workbook part (xl/workbook.xml)');
    const { sheets, date1904 } = await readWorkbook(zip, workbookPart);
    const rels = await readRelationships(zip, relsPartOf(workbookPart));
    const byType = (suffix: string, fallback: string) =>
      [...rels.values()].find((r) => r.type.endsWith(suffix))?.target ?? fallback;
    const sharedStringsPart = resolvePart(
      workbookPart,
      byType(RELATIONSHIP.sharedStrings, 'sharedStrings.xml'),
    );
    const stylesPart = resolvePart(workbookPart, byType(RELATIONSHIP.styles, 'styles.xml'));
    const strings = zip.has(sharedStringsPart) ? await readSharedStrings(zip, sharedStringsPart) : [];
    const dateStyles = zip.has(stylesPart) ? await readDateStyles(zip, stylesPart) : [];
    const entries: SheetEntry[] = sheets.map((s) => {
      const target = s.rid === undefined ? undefined : rels.get(s.rid)?.target;
      return { name: s.name, part: target === undefined ? undefined : resolvePart(workbookPart, target) };
    });
    const cells: CellContext = { strings, dateStyles, date1904 };
    return {
      sheetNames: entries.map((e) => e.name),
      rows: (name) =>
        sheetRows(
          zip,
          entries.find((e) => e.name === name),
          cells,
          origin,
        ),
      close: () => zip.close(),
    };
  } catch (error) {
    zip.close();
    if (error instanceof SluiceError) throw error;
    throw notAWorkbook(origin, 'xlsx', error);
  }
}

const ZIP_SIGNATURE = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const OLE_SIGNATURE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);

/** Says what the file is when it is not a zip: empty, a legacy or encrypted workbook, or something else. */
async function checkSignature(file: string, origin: string): Promise<void> {
  const handle = await open(file, 'r');
  const head = Buffer.alloc(8);
  let size: number;
  try {
    ({ bytesRead: size } = await handle.read(head, 0, 8, 0));
  } finally {
    await handle.close();
  }
  if (size >= 4 && head.subarray(0, 4).equals(ZIP_SIGNATURE)) return;
  let why = 'it is not a zip file, as every .xlsx is';
  if (size === 0) why = 'the file is empty';
  else if (size === 8 && head.equals(OLE_SIGNATURE)) {
    why = 'it is a legacy .xls or a password-protected workbook, not a zip file as every .xlsx is';
  }
  throw notAWorkbook(origin, 'xlsx', new Error(why));
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `xl/workbook.xml` → `xl/_rels/workbook.xml.rels`. */
function relsPartOf(part: string): string {
  const slash = part.lastIndexOf('/');
  return `${part.slice(0, slash + 1)}_rels/${part.slice(slash + 1)}.rels`;
}

async function officeDocument(zip: ZipParts): Promise<string | undefined> {
  const rels = await readRelationships(zip, '_rels/.rels');
  const target = [...rels.values()].find((r) => r.type.endsWith(RELATIONSHIP.officeDocument))?.target;
  return target === undefined ? undefined : resolvePart('', target);
}

async function readRelationships(
  zip: ZipParts,
  part: string,
): Promise<Map<string, { type: string; target: string }>> {
  const rels = new Map<string, { type: string; target: string }>();
  if (!zip.has(part)) return rels;
  await readXml(await zip.open(part), {
    open(name, attrs) {
      if (name !== 'Relationship' || attrs.Id === undefined || attrs.Target === undefined) return;
      if (attrs.TargetMode === 'External') return;
      rels.set(attrs.Id, { type: attrs.Type ?? '', target: attrs.Target });
    },
  });
  return rels;
}

async function readWorkbook(
  zip: ZipParts,
  part: string,
): Promise<{ sheets: { name: string; rid: string | undefined }[]; date1904: boolean }> {
  const sheets: { name: string; rid: string | undefined }[] = [];
  let date1904 = false;
  await readXml(await zip.open(part), {
    open(name, attrs) {
      if (name === 'workbookPr') date1904 = attrs.date1904 === '1' || attrs.date1904 === 'true';
      else if (name === 'sheet' && attrs.name !== undefined) {
        sheets.push({ name: attrs.name, rid: attribute(attrs, 'id') });
      }
    },
  });
  return { sheets, date1904 };
}

/** `_xHHHH_` escapes of OOXML strings (a character XML cannot carry, or a literal `_x…_` as `_x005F_x…_`). */
function unescapeText(text: string): string {
  if (text.indexOf('_x') < 0) return text;
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Collects the text of `<t>` elements inside a string item (`<si>`, or a cell's `<is>`), rich-text runs
 * included and phonetic guides (`<rPh>`) left out.
 */
class StringItemText {
  private depth = 0;
  private phonetic = false;
  private inText = false;
  text = '';

  open(name: string): void {
    if (name === 'rPh') this.phonetic = true;
    else if (name === 't' && !this.phonetic) this.inText = true;
    this.depth++;
  }

  close(name: string): void {
    if (name === 'rPh') this.phonetic = false;
    else if (name === 't') this.inText = false;
    this.depth--;
  }

  add(text: string): void {
    if (this.inText) this.text += text;
  }

  take(): string {
    const text = unescapeText(this.text);
    this.text = '';
    this.inText = false;
    this.phonetic = false;
    return text;
  }
}

async function readSharedStrings(zip: ZipParts, part: string): Promise<string[]> {
  const strings: string[] = [];
  const item = new StringItemText();
  let inItem = false;
  await readXml(await zip.open(part), {
    open(name) {
      if (name === 'si') inItem = true;
      else if (inItem) item.open(name);
    },
    text(text) {
      if (inItem) item.add(text);
    },
    close(name) {
      if (name === 'si') {
        strings.push(item.take());
        inItem = false;
      } else if (inItem) item.close(name);
    },
  });
  return strings;
}

/** For each cell style (`<cellXfs>` entry, by index), whether its number format shows a date. */
async function readDateStyles(zip: ZipParts, part: string): Promise<boolean[]> {
  const formats = new Map<number, string>();
  const styleFormats: number[] = [];
  let inCellXfs = false;
  await readXml(await zip.open(part), {
    open(name, attrs) {
      if (name === 'numFmt' && attrs.numFmtId !== undefined) {
        formats.set(Number(attrs.numFmtId), attrs.formatCode ?? '');
      } else if (name === 'cellXfs') inCellXfs = true;
      else if (name === 'xf' && inCellXfs) styleFormats.push(Number(attrs.numFmtId ?? 0));
    },
    close(name) {
      if (name === 'cellXfs') inCellXfs = false;
    },
  });
  return styleFormats.map((id) => {
    const custom = formats.get(id);
    return custom !== undefined ? isDateFormat(custom) : BUILT_IN_DATE_FORMATS.has(id);
  });
}

interface CellContext {
  strings: string[];
  dateStyles: boolean[];
  date1904: boolean;
}

/** `AB12` → 28; 0 when the reference has no letters. */
function columnOf(ref: string): number {
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i) & ~0x20; // upper case
    if (c < 65 || c > 90) break;
    n = n * 26 + (c - 64);
  }
  return n;
}

const MAX_COLUMN = 16_384;

/** A cell's text from its type, its `<v>` (or inline string) and its style. */
function cellText(type: string, value: string, style: number, context: CellContext): string | null {
  switch (type) {
    case 's': {
      const text = context.strings[Number(value)];
      return text === undefined || text === '' ? null : text;
    }
    case 'str':
    case 'inlineStr':
      return value === '' ? null : unescapeText(value);
    case 'b':
      if (value === '') return null;
      return value === '1' || value.toLowerCase() === 'true' ? 'true' : 'false';
    case 'e':
      return value === '' ? null : value;
    case 'd': {
      if (value === '') return null;
      // An ISO 8601 date-time; without a zone it is the wall-clock time written in the sheet.
      const iso = value.includes('T') ? value : `${value}T00:00:00`;
      const date = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : `${iso}Z`);
      return Number.isNaN(date.getTime()) ? value : dateText(date);
    }
    default: {
      if (value === '') return null;
      const n = Number(value);
      if (!Number.isFinite(n)) return value;
      if (context.dateStyles[style] === true) return dateText(serialToDate(n, context.date1904));
      return numberText(n);
    }
  }
}

/**
 * The rows of one sheet, in order, each with its cells as text (null for an empty cell). The sheet's XML is
 * streamed: only the rows of one chunk are in memory at a time.
 */
async function* sheetRows(
  zip: ZipParts,
  sheet: SheetEntry | undefined,
  context: CellContext,
  origin: string,
): AsyncGenerator<SheetRow> {
  if (sheet?.part === undefined || !zip.has(sheet.part)) {
    // A sheet listed without its part (or a chart sheet): no rows.
    return;
  }
  const ready: SheetRow[] = [];
  let row: SheetRow | undefined;
  let lastRow = 0;
  let column = 0;
  let type = 'n';
  let style = 0;
  let value = '';
  let inValue = false;
  let inline: StringItemText | undefined;
  const handlers = {
    open(name: string, attrs: Record<string, string>) {
      if (inline) {
        inline.open(name);
        return;
      }
      switch (name) {
        case 'row': {
          const r = attrs.r === undefined ? NaN : Number(attrs.r);
          lastRow = Number.isInteger(r) && r > lastRow ? r : lastRow + 1;
          row = { number: lastRow, cells: [] };
          column = 0;
          break;
        }
        case 'c': {
          const at = attrs.r === undefined ? 0 : columnOf(attrs.r);
          column = at > 0 ? at : column + 1;
          type = attrs.t ?? 'n';
          style = attrs.s === undefined ? 0 : Number(attrs.s);
          value = '';
          break;
        }
        case 'v':
          inValue = true;
          break;
        case 'is':
          inline = new StringItemText();
          break;
      }
    },
    text(text: string) {
      if (inValue) value += text;
      else if (inline) inline.add(text);
    },
    close(name: string) {
      if (inline) {
        if (name === 'is') {
          value = inline.take();
          inline = undefined;
        } else inline.close(name);
        return;
      }
      if (name === 'v') inValue = false;
      else if (name === 'c') {
        if (row && column <= MAX_COLUMN) {
          const text = cellText(type, value, style, context);
          if (text !== null) row.cells[column - 1] = text;
        }
      } else if (name === 'row' && row) {
        ready.push(row);
        row = undefined;
      }
    },
  };
  let stream;
  try {
    stream = await zip.open(sheet.part);
  } catch (error) {
    throw damagedSheet(origin, sheet.name, lastRow, error);
  }
  const rows = feedXml(stream, handlers);
  try {
    for (;;) {
      try {
        const next = await rows.next();
        if (next.done) break;
      } catch (error) {
        throw damagedSheet(origin, sheet.name, lastRow, error);
      }
      for (const r of ready) {
        // A sparse row has holes where cells are empty: they read as null.
        for (let i = 0; i < r.cells.length; i++) if (r.cells[i] === undefined) r.cells[i] = null;
        yield r;
      }
      ready.length = 0;
    }
  } finally {
    // Also when the reader stops early: the zip's read stream is closed, not left open.
    stream.destroy();
  }
}

function damagedSheet(origin: string, sheet: string, lastRow: number, cause: unknown): SluiceError {
  const near = lastRow > 0 ? ` after row ${lastRow}` : '';
  return new SluiceError(
    'PARSE_FAILED',
    `${origin}: sheet "${sheet}" cannot be read${near}: ${errorText(cause)}`,
    {
      where: lastRow > 0 ? `${origin}:${lastRow}` : origin,
      cause,
      hint: 'Check that the file is a whole .xlsx (not cut short); opening and saving it again in a spreadsheet program usually repairs it.',
    },
  );
}
