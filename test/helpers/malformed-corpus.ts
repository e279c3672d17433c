import { writeFile } from 'node:fs/promises';
import * as XLSX from '@e965/xlsx';
import iconv from 'iconv-lite';

/**
 * Bad inputs a parser may meet, each with the parse section that reads it and what a run of it must give.
 * `test/integration/malformed-corpus.test.ts` runs each through `sluice run`; add entries here.
 */
export interface MalformedInput {
  /** What is wrong with it, as a test name. */
  name: string;
  /** The file's name in the source folder (its extension picks nothing: `parse.type` does). */
  fileName: string;
  /** The file's bytes, or a function that writes the file. */
  bytes: Buffer | ((file: string) => Promise<void>);
  /** The pipeline's parse section. */
  parse: Record<string, unknown>;
  /** The check section's columns (a column or two the file has); none when undefined. */
  check?: Record<string, Record<string, unknown>>;
  /** Options added to the postgres loader's section (`columnNames: keep`). */
  load?: Record<string, unknown>;
  /** What the run must give. */
  expect: {
    /** The file's outcome in the ledger (either of two when it is not settled yet). */
    file: 'loaded' | 'rejected' | ('loaded' | 'rejected')[];
    rowsLoaded?: number;
    rowsRejected?: number;
    /** The ledger's reason for a rejected file. */
    reason?: RegExp;
    /** A warning the run prints (in its summary). */
    warning?: RegExp;
  };
}

const text = (s: string) => Buffer.from(s, 'utf8');

/** A workbook of one sheet, as SheetJS writes it (`xlsx` or `biff8`). */
function workbook(rows: XLSX.CellObject[][] | unknown[][], bookType: 'xlsx' | 'biff8'): Buffer {
  const ws = XLSX.utils.aoa_to_sheet(rows as unknown[][]);
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(wb, ws, 'Data');
  return XLSX.write(wb, { bookType, type: 'buffer' }) as Buffer;
}

const idIsInteger = { id: { required: true, integer: true } };

export const malformedCorpus: MalformedInput[] = [
  {
    name: 'a quote that is never closed',
    fileName: 'unterminated.csv',
    bytes: text('id,name,amount\n1,ana,10\n2,"bob,20\n3,cy,30\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 1, rowsRejected: 1 },
  },
  {
    name: 'ragged rows: too few and too many fields',
    fileName: 'ragged.csv',
    bytes: text('id,name\n1,a\n2\n3,c,extra\n4,d\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 2, rowsRejected: 2 },
  },
  {
    name: 'a byte-order mark in the middle (two files glued together)',
    fileName: 'bom-inside.csv',
    bytes: text('\uFEFFid,name\n1,a\n\uFEFFid,name\n2,b\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 2, rowsRejected: 1 },
  },
  {
    name: 'CRLF, LF and lone CR line breaks mixed',
    fileName: 'line-breaks.csv',
    bytes: text('id,name\r\n1,a\n2,"b\r\nc"\r3,d\r\n4,e'),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 4, rowsRejected: 0 },
  },
  {
    name: 'a quote inside an unquoted field, and text after a closing quote',
    fileName: 'stray-quotes.csv',
    bytes: text('id,name\n1,ab"c\n2,"d"e\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 2, rowsRejected: 0 },
  },
  {
    name: 'NUL bytes in values',
    fileName: 'nul.csv',
    bytes: text('id,name\n1,a\u0000b\n2,c\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    // PostgreSQL text cannot hold NUL: the row is rejected (rule unstorable), the others load.
    expect: { file: 'loaded', rowsLoaded: 1, rowsRejected: 1 },
  },
  {
    name: 'a header with an empty cell',
    fileName: 'empty-header-cell.csv',
    bytes: text('id,,name\n1,x,a\n2,y,b\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 2, rowsRejected: 0 },
  },
  {
    name: 'a header with an empty cell, names kept as they are',
    fileName: 'empty-header-cell-keep.csv',
    bytes: text('id,,name\n1,x,a\n2,y,b\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    load: { columnNames: 'keep' },
    // A name the target cannot take: the file is rejected, saying so.
    expect: { file: 'rejected', reason: /empty/ },
  },
  {
    name: 'a duplicate header',
    fileName: 'duplicate-header.csv',
    bytes: text('id,name,Name\n1,a,b\n2,c,d\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 2, rowsRejected: 0 },
  },
  {
    name: 'a 2,000-column header',
    fileName: 'wide.csv',
    bytes: text(
      [
        ['id', ...Array.from({ length: 1999 }, (_, i) => `c${i + 1}`)].join(','),
        ['1', ...Array.from({ length: 1999 }, (_, i) => String(i))].join(','),
      ].join('\n') + '\n',
    ),
    parse: { type: 'csv' },
    check: idIsInteger,
    // More columns than a PostgreSQL table can have: the file is rejected (TARGET_MISMATCH), not the run.
    expect: { file: 'rejected', reason: /column/ },
  },
  {
    name: 'a latin1 file read as UTF-8',
    fileName: 'latin1.csv',
    bytes: iconv.encode('id;nombre;ciudad\n1;Ana;Madrid\n2;José;Cádiz\n', 'latin1'),
    parse: { type: 'csv', delimiter: ';' },
    check: idIsInteger,
    expect: {
      file: 'loaded',
      rowsLoaded: 2,
      rowsRejected: 0,
      warning: /latin1\.csv:3 has bytes that are not valid UTF-8.*encoding: latin1 \(or windows-1252\)/,
    },
  },
  {
    name: 'a UTF-16 file read as UTF-8',
    fileName: 'utf16.csv',
    bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('id,name\n1,a\n', 'utf16le')]),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'rejected', reason: /UTF-16LE.*set encoding: utf-16le/ },
  },
  {
    name: 'a field longer than maxFieldSize',
    fileName: 'long-field.csv',
    bytes: text(`id,note\n1,short\n2,"${'long line\n'.repeat(300)}"\n3,short\n`),
    parse: { type: 'csv', maxFieldSize: 1000 },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 2, rowsRejected: 1 },
  },
  {
    name: 'an empty file',
    fileName: 'empty.csv',
    bytes: Buffer.alloc(0),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'rejected', reason: /the file is empty/ },
  },
  {
    name: 'a header and no rows',
    fileName: 'header-only.csv',
    bytes: text('id,name\r\n'),
    parse: { type: 'csv' },
    check: idIsInteger,
    expect: { file: 'loaded', rowsLoaded: 0, rowsRejected: 0 },
  },
  {
    name: 'a truncated .xlsx',
    fileName: 'truncated.xlsx',
    bytes: (() => {
      const whole = workbook([['id', 'name'], ...Array.from({ length: 50 }, (_, i) => [i, `n${i}`])], 'xlsx');
      return whole.subarray(0, Math.floor(whole.length * 0.6));
    })(),
    parse: { type: 'xlsx' },
    check: idIsInteger,
    expect: { file: 'rejected', reason: /truncated\.xlsx is not a readable xlsx workbook/ },
  },
  {
    name: 'a text file named .xls',
    fileName: 'text.xls',
    bytes: text('id,name\n1,a\n'),
    parse: { type: 'xls' },
    check: idIsInteger,
    expect: { file: 'rejected', reason: /text\.xls is not a readable xls workbook/ },
  },
  {
    name: 'a sheet that does not exist',
    fileName: 'no-such-sheet.xls',
    bytes: workbook([['id'], [1]], 'biff8'),
    parse: { type: 'xls', sheet: 'Summary' },
    check: idIsInteger,
    expect: { file: 'rejected', reason: /sheet "Summary" is not in the workbook: its sheets are "Data"/ },
  },
  {
    name: 'formula errors and booleans in a checked column',
    fileName: 'errors.xlsx',
    bytes: workbook(
      [
        ['id', 'amount', 'flag'],
        [1, 10, true],
        [2, { t: 'e', v: 0x2a, f: 'NA()' }, false],
        [3, null, { t: 'e', v: 0x07, f: '1/0' }],
        [4, { t: 'e', v: 0x07, f: '1/0' }, null],
      ],
      'xlsx',
    ),
    parse: { type: 'xlsx' },
    check: { ...idIsInteger, amount: { integer: true }, flag: { oneOf: ['true', 'false'] } },
    expect: { file: 'loaded', rowsLoaded: 1, rowsRejected: 3 },
  },
  {
    name: 'JSON that breaks off',
    fileName: 'cut.json',
    bytes: text('{"data": [\n  {"id": 1, "name": "a"},\n  {"id": 2, "na'),
    parse: { type: 'json', path: 'data' },
    check: idIsInteger,
    expect: { file: 'rejected', reason: /not valid JSON/ },
  },
  {
    name: 'JSON Lines with a broken line',
    fileName: 'broken.jsonl',
    bytes: text('{"id": 1}\n{"id": 2,}\n{"id": 3}\n'),
    parse: { type: 'json', format: 'jsonl' },
    check: idIsInteger,
    expect: { file: 'rejected', reason: /not valid JSON/ },
  },
];

/** Writes an entry's file. */
export async function writeMalformed(input: MalformedInput, file: string): Promise<void> {
  if (typeof input.bytes === 'function') await input.bytes(file);
  else await writeFile(file, input.bytes);
}
