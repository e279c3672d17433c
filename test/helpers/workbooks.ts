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
