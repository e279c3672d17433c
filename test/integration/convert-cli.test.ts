import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
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

  it('names the sheets there are when the sheet is missing, and writes nothing', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'book.xlsx');
    await writeXlsx(file);
    const result = await runCli(['convert', file, '--sheet', 'Nope']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('"Cover", "Data"');
    await expect(stat(path.join(dir, 'book.csv'))).rejects.toThrow();
  });
});
