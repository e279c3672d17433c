import { writeFile } from 'node:fs/promises';
import * as XLSX from '@e965/xlsx';
import ExcelJS from 'exceljs';

export type CellValue = string | number | boolean | Date | null;

/** Writes an .xlsx with one sheet of these rows (dates get a date format, so they read back as dates). */
export async function writeXlsx(
  file: string,
  rows: CellValue[][],
  options: { sheet?: string; date1904?: boolean } = {},
): Promise<void> {
  const wb = new ExcelJS.Workbook();
  if (options.date1904) wb.properties.date1904 = true;
  const ws = wb.addWorksheet(options.sheet ?? 'Sheet1');
  for (const values of rows) {
    const row = ws.addRow(values);
    values.forEach((v, i) => {
      if (v instanceof Date) row.getCell(i + 1).numFmt = 'yyyy-mm-dd';
    });
  }
  await wb.xlsx.writeFile(file);
}

/** Writes a legacy .xls (BIFF8) with one sheet of these rows. */
export async function writeXls(
  file: string,
  rows: CellValue[][],
  options: { sheet?: string } = {},
): Promise<void> {
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(
    wb,
    XLSX.utils.aoa_to_sheet(rows, { cellDates: true }),
    options.sheet ?? 'Sheet1',
  );
  await writeFile(file, XLSX.write(wb, { bookType: 'biff8', type: 'buffer' }) as Buffer);
}

/**
 * A large .xlsx written by exceljs's streaming writer: a header, then `rows` rows of id, e-mail, amount, a
 * date-formatted day and a note. The workbook of the memory tests and the XLSX benchmarks.
 */
export async function writeBigXlsx(file: string, rows: number): Promise<void> {
  const writer = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useStyles: true });
  const ws = writer.addWorksheet('Data');
  ws.addRow(['id', 'email', 'amount', 'day', 'note']).commit();
  for (let i = 1; i <= rows; i++) {
    const row = ws.addRow([
      i,
      `user${i}@example.com`,
      i * 1.25,
      new Date(Date.UTC(2024, 0, 1 + (i % 365))),
      `note ${i % 97}`,
    ]);
    row.getCell(4).numFmt = 'yyyy-mm-dd';
    row.commit();
  }
  ws.commit();
  await writer.commit();
}
