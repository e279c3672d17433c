import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { csvRecords } from '../helpers/csv-records.js';

/** The sheet as a grid of text, the way a CSV of it should read. */
const SHEET = [
  ['id', 'name', 'note', 'amount', 'day'],
  ['1', 'Ana', 'says "hi", twice', '10.5', '2024-02-29'],
  ['2', 'Luis', 'two\nlines', '-3', '2024-03-01 08:30:00'],
  ['3', 'Zoë', '', '1000000', '1999-12-31'],
];

const cellValue = (text: string, col: number): ExcelJS.CellValue => {
  if (text === '') return null;
  if (col === 0 || col === 3) return Number(text);
  if (col === 4) return new Date(`${text.length === 10 ? `${text}T00:00:00` : text.replace(' ', 'T')}Z`);
  return text;
};

async function writeXlsx(file: string): Promise<void> {
  const wb = new ExcelJS.Workbook();
  wb.addWorksheet('Cover').addRow(['not this one']);
  const ws = wb.addWorksheet('Data');
  SHEET.forEach((row, r) =>
    row.forEach((text, c) => {
      const cell = ws.getRow(r + 1).getCell(c + 1);
      cell.value = r === 0 ? text : cellValue(text, c);
      if (r > 0 && c === 4) cell.numFmt = text.length === 10 ? 'yyyy-mm-dd' : 'yyyy-mm-dd hh:mm:ss';
    }),
  );
  await wb.xlsx.writeFile(file);
}

async function writeXls(file: string): Promise<void> {
  const ws: XLSX.WorkSheet = {};
  SHEET.forEach((row, r) =>
    row.forEach((text, c) => {
      if (text === '') return;
      const at = XLSX.utils.encode_cell({ r, c });
      if (r > 0 && (c === 0 || c === 3)) ws[at] = { t: 'n', v: Number(text) };
      else if (r > 0 && c === 4) {
        const ms = Date.parse(`${text.length === 10 ? `${text}T00:00:00` : text.replace(' ', 'T')}Z`);
        ws[at] = { t: 'n', v: ms / 86_400_000 + 25569, z: 'yyyy-mm-dd hh:mm:ss' };
      } else ws[at] = { t: 's', v: text };
    }),
  );
  ws['!ref'] = XLSX.utils.encode_range({ s: { r: 0, c: 0 }, e: { r: SHEET.length - 1, c: 4 } });
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([['cover']]), 'Cover');
  XLSX.utils.book_append_sheet(wb, ws, 'Data');
  await writeFile(file, XLSX.write(wb, { bookType: 'biff8', type: 'buffer' }) as Buffer);
}

/** Writes a SheetJS workbook as .xlsx and as .xls (BIFF8) and returns both paths. */
async function writeBothWays(dir: string, name: string, wb: XLSX.WorkBook): Promise<[string, string]> {
  const xlsx = path.join(dir, `${name}.xlsx`);
  const xls = path.join(dir, `${name}.xls`);
  await writeFile(xlsx, XLSX.write(wb, { bookType: 'xlsx', type: 'buffer' }) as Buffer);
  await writeFile(xls, XLSX.write(wb, { bookType: 'biff8', type: 'buffer' }) as Buffer);
  return [xlsx, xls];
}

function expectNoStack(result: CliResult): void {
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

/** Runs `work` over the items, `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

describe('sluice convert', () => {
  for (const [ext, write] of [
    ['xlsx', writeXlsx],
    ['xls', writeXls],
  ] as const) {
    it(`converts a sheet of an .${ext} to CSV cell for cell, mode 0660`, async () => {
      const dir = await tempDir();
      const file = path.join(dir, `book.${ext}`);
      const out = path.join(dir, 'out.csv');
      await write(file);
      const result = await runCli(['convert', file, '--sheet', 'Data', '--out', out], { UMASK: '022' });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('4 rows, 5 columns (sheet "Data")');
      const text = await readFile(out, 'utf8');
      expect(csvRecords(text)).toEqual(SHEET);
      expect(text.startsWith('id,name,note,amount,day\r\n')).toBe(true);
      expect((await stat(out)).mode & 0o777).toBe(0o660);

      // By position, and to the default name beside the workbook.
      const second = await runCli(['convert', file, '--sheet', '2']);
      expect(second.code).toBe(0);
      expect(await readFile(path.join(dir, 'book.csv'), 'utf8')).toBe(text);
    });
  }

  it('keeps booleans and formula errors: the same workbook as .xls and as .xlsx gives the same CSV', async () => {
    const dir = await tempDir();
    // The cells of SheetJS's ErrorTypes test file, plus booleans, plain and from formulas.
    const ws: XLSX.WorkSheet = {
      A1: { t: 's', v: 'case' },
      B1: { t: 's', v: 'value' },
      A2: { t: 's', v: 'true' },
      B2: { t: 'b', v: true },
      A3: { t: 's', v: 'false from a formula' },
      B3: { t: 'b', v: false, f: '1>2' },
      A4: { t: 's', v: '#NULL!' },
      B4: { t: 'e', v: 0x00, f: 'A1 B1' },
      A5: { t: 's', v: '#DIV/0!' },
      B5: { t: 'e', v: 0x07, f: '1/0' },
      A6: { t: 's', v: '#VALUE!' },
      B6: { t: 'e', v: 0x0f, f: '"a"+1' },
      A7: { t: 's', v: '#REF!' },
      B7: { t: 'e', v: 0x17 },
      A8: { t: 's', v: '#NAME?' },
      B8: { t: 'e', v: 0x1d, f: 'NOPE()' },
      A9: { t: 's', v: '#NUM!' },
      B9: { t: 'e', v: 0x24, f: 'SQRT(-1)' },
      A10: { t: 's', v: '#N/A' },
      B10: { t: 'e', v: 0x2a, f: 'NA()' },
      A11: { t: 's', v: 'empty' },
      A12: { t: 's', v: 'number from a formula' },
      B12: { t: 'n', v: 0.5, f: '1/2' },
      '!ref': 'A1:B12',
    };
    const wb = XLSX.utils.book_new();
    XLSX.utils.book_append_sheet(wb, ws, 'ErrorTypes');
    const [xlsx, xls] = await writeBothWays(dir, 'errors', wb);
    const fromXlsx = await runCli(['convert', xlsx, '--out', path.join(dir, 'from-xlsx.csv')]);
    const fromXls = await runCli(['convert', xls, '--out', path.join(dir, 'from-xls.csv')]);
    for (const result of [fromXlsx, fromXls]) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    }
    const text = await readFile(path.join(dir, 'from-xlsx.csv'), 'utf8');
    expect(await readFile(path.join(dir, 'from-xls.csv'), 'utf8')).toBe(text);
    expect(csvRecords(text)).toEqual([
      ['case', 'value'],
      ['true', 'true'],
      ['false from a formula', 'false'],
      ['#NULL!', '#NULL!'],
      ['#DIV/0!', '#DIV/0!'],
      ['#VALUE!', '#VALUE!'],
      ['#REF!', '#REF!'],
      ['#NAME?', '#NAME?'],
      ['#NUM!', '#NUM!'],
      ['#N/A', '#N/A'],
      ['empty', ''],
      ['number from a formula', '0.5'],
    ]);
  });

  // Many CLI runs: time for a busy machine.
  it(
    "writes every non-empty row of every sheet at the sheet's full width, as SheetJS counts them",
    { timeout: 300_000 },
    async () => {
      const dir = await tempDir();
      const books: Record<string, XLSX.WorkBook> = {};
      const book = (name: string, sheets: Record<string, XLSX.WorkSheet>) => {
        const wb = XLSX.utils.book_new();
        for (const [sheet, ws] of Object.entries(sheets)) XLSX.utils.book_append_sheet(wb, ws, sheet);
        books[name] = wb;
      };
      const aoa = XLSX.utils.aoa_to_sheet;
      // Rows of different lengths, longer ones below: an import would refuse them as too wide.
      book('ragged', {
        S: aoa([['a', 'b'], [1, 2, 3], [4], [5, 6, 7, 8, 9], [], ['x']]),
      });
      // Empty rows first, and a title above the table.
      const titled = aoa([[], [], ['Report'], [], ['id', 'name'], [1, 'ana'], [2, 'luis']]);
      book('empty-first-rows', { S: titled });
      // Merged cells: only the top-left cell of a merge holds the value.
      const merged = aoa([
        ['Quarter', null, null, 'Total'],
        ['Q1', 'Q2', 'Q3', null],
        [10, 20, 30, 60],
      ]);
      merged['!merges'] = [
        { s: { r: 0, c: 0 }, e: { r: 0, c: 2 } },
        { s: { r: 0, c: 3 }, e: { r: 1, c: 3 } },
      ];
      book('merged', { S: merged });
      // Several sheets, one of them empty and one only a far cell.
      const far = aoa([[]]);
      far['F9'] = { t: 's', v: 'far' };
      far['!ref'] = 'A1:F9';
      const mixed = aoa([
        ['text', 'number', 'bool', 'date'],
        ['a, "quoted"', 1.25, true, null],
        [null, null, null, null],
        ['multi\nline', -0, false, null],
      ]);
      mixed['D2'] = { t: 'n', v: 45351, z: 'yyyy-mm-dd' }; // 2024-02-29
      book('sheets', {
        One: aoa([
          ['k', 'v'],
          ['a', 1],
        ]),
        Empty: aoa([]),
        Far: far,
        Mixed: mixed,
      });
      const files = (
        await Promise.all(Object.entries(books).map(([name, wb]) => writeBothWays(dir, name, wb)))
      ).flat();
      const read = async (file: string) => XLSX.read(await readFile(file));
      const jobs = (
        await Promise.all(
          files.map(async (file) =>
            (await read(file)).SheetNames.map((sheet, i) => ({ file, sheet, position: i + 1 })),
          ),
        )
      ).flat();
      expect(jobs.length).toBe(2 * 7);
      await eachLimited(jobs, 3, async ({ file, sheet, position }) => {
        const out = `${file}.${position}.csv`;
        const result = await runCli(['convert', file, '--sheet', String(position), '--out', out]);
        expect(result.stderr, `${file} ${sheet}`).toBe('');
        expect(result.code, `${file} ${sheet}`).toBe(0);
        const records = csvRecords(await readFile(out, 'utf8'));
        const ws = (await read(file)).Sheets[sheet]!;
        const expected = csvRecords(XLSX.utils.sheet_to_csv(ws, { RS: '\r\n' })).filter((r) =>
          r.some((f) => f !== ''),
        );
        expect(records.length, `${file} ${sheet}`).toBe(expected.length);
        expect(
          records.every((r) => r.some((f) => f !== '')),
          `${file} ${sheet}`,
        ).toBe(true);
        const width = Math.max(0, ...expected.map((r) => r.findLastIndex((f) => f !== '') + 1));
        expect(new Set(records.map((r) => r.length)), `${file} ${sheet}`).toEqual(
          new Set(records.length > 0 ? [width] : []),
        );
      });
      // A look at the contents: the empty rows above the title are left out, and nothing is refused.
      expect(csvRecords(await readFile(path.join(dir, 'empty-first-rows.xlsx.1.csv'), 'utf8'))).toEqual([
        ['Report', ''],
        ['id', 'name'],
        ['1', 'ana'],
        ['2', 'luis'],
      ]);
      expect(csvRecords(await readFile(path.join(dir, 'ragged.xls.1.csv'), 'utf8'))).toEqual([
        ['a', 'b', '', '', ''],
        ['1', '2', '3', '', ''],
        ['4', '', '', '', ''],
        ['5', '6', '7', '8', '9'],
        ['x', '', '', '', ''],
      ]);
      expect(await readFile(path.join(dir, 'sheets.xlsx.2.csv'), 'utf8')).toBe('');
      expect(csvRecords(await readFile(path.join(dir, 'sheets.xls.4.csv'), 'utf8'))).toEqual([
        ['text', 'number', 'bool', 'date'],
        ['a, "quoted"', '1.25', 'true', '2024-02-29'],
        ['multi\nline', '0', 'false', ''],
      ]);
    },
  );

  it('reads a sheet as an import would with --header-row, --skip-rows and --columns', async () => {
    const dir = await tempDir();
    const wb = XLSX.utils.book_new();
    const rows = [
      ['Report of visits'],
      [],
      ['id', 'x', 'name', 'score', 'note'],
      [null, null, 'text', 'points'],
      [1, 'x', 'ana', 10, 'left out'],
      [2, 'x', 'luis', 20],
    ];
    XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet(rows), 'Visits');
    for (const file of await writeBothWays(dir, 'visits', wb)) {
      const out = `${file}.csv`;
      const args = ['convert', file, '--header-row', '3', '--skip-rows', '1', '--columns', 'c:d'];
      const result = await runCli([...args, '--out', out]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(csvRecords(await readFile(out, 'utf8'))).toEqual([
        ['name', 'score'],
        ['ana', '10'],
        ['luis', '20'],
      ]);

      // Read as an import, a row wider than the header is left out: exit 1, and the row named.
      const narrow = await runCli(['convert', file, '--header-row', '3', '--columns', 'A:B', '--out', out]);
      expect(narrow.code).toBe(0);
      const wide = await runCli(['convert', file, '--header-row', '1', '--out', out]);
      expect(wide.code).toBe(1);
      expect(wide.stderr).toContain(`${path.basename(file)}:3: expected 1 fields, found 5, row left out`);
      expectNoStack(wide);
    }
  });

  it(
    'names the command-line flag in its errors, exits 2 on wrong usage and 1 on a file it cannot read',
    { timeout: 300_000 },
    async () => {
      const dir = await tempDir();
      const file = path.join(dir, 'book.xlsx');
      await writeXlsx(file);

      const missingSheet = await runCli(['convert', file, '--sheet', 'Nope']);
      expect(missingSheet.code).toBe(2);
      expect(missingSheet.stderr).toContain('sheet "Nope" is not in the workbook');
      expect(missingSheet.stderr).toContain('"Cover", "Data"');
      expect(missingSheet.stderr).toContain('--sheet');

      const emptyHeader = await runCli(['convert', file, '--sheet', 'Data', '--header-row', '9']);
      expect(emptyHeader.code).toBe(1);
      expect(emptyHeader.stderr).toContain('--header-row');
      expect(emptyHeader.stderr).not.toContain('parse.');

      for (const [args, words] of [
        [['--header-row', '0'], '--header-row: expected a row number'],
        [['--skip-rows', 'two'], '--skip-rows: expected a number of rows'],
        [['--columns', 'F:A'], '--columns: the range must run left to right'],
        [['--columns', 'A1:B2'], '--columns: a column range such as "A:F"'],
        [['--sheet', '0'], '--sheet: positions start at 1'],
        [['--bogus'], "unknown option '--bogus'"],
      ] as const) {
        const result = await runCli(['convert', file, ...args]);
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr, args.join(' ')).toContain(words);
        expectNoStack(result);
      }
      const noFile = await runCli(['convert']);
      expect(noFile.code).toBe(2);
      expect(noFile.stderr).toContain("missing required argument 'file'");
      const missingFile = await runCli(['convert', path.join(dir, 'nope.xlsx')]);
      expect(missingFile.code).toBe(2);
      expect(missingFile.stderr).toContain(`${path.join(dir, 'nope.xlsx')}: cannot be read: no such file`);
      const wrongKind = await runCli(['convert', path.join(dir, 'notes.txt')]);
      expect(wrongKind.code).toBe(2);
      expect(wrongKind.stderr).toContain('expected a .xls or .xlsx file');

      // A damaged workbook fails (exit 1) with one clear paragraph, and leaves no file behind.
      const whole = await readFile(file);
      await writeFile(path.join(dir, 'cut.xlsx'), whole.subarray(0, Math.floor(whole.length / 2)));
      await writeFile(path.join(dir, 'text.xls'), 'id,name\n1,ana\n');
      for (const name of ['cut.xlsx', 'text.xls']) {
        const result = await runCli(['convert', path.join(dir, name)]);
        expect(result.code, name).toBe(1);
        expect(result.stderr, name).toContain(`${name} is not a readable`);
        expectNoStack(result);
      }
      expect((await readdir(dir)).sort()).toEqual(['book.xlsx', 'cut.xlsx', 'text.xls']);
    },
  );
});
