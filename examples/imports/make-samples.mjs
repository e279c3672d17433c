// Writes the sample workbooks of this example (inbox/globex_stock_2024-01.xlsx, inbox/initech_visits.xls).
// Run: node examples/imports/make-samples.mjs
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import ExcelJS from 'exceljs';

const inbox = path.join(import.meta.dirname, 'inbox');

const wb = new ExcelJS.Workbook();
wb.addWorksheet('Notes').addRow(['Stock as counted at the end of the month']);
const stock = wb.addWorksheet('Stock');
stock.addRow(['Stock date', '31/01/2024']);
stock.addRow([]);
stock.addRow(['SKU', 'Description', 'On Hand', 'Unit Cost', 'Bin']);
stock.addRow(['GX-100', 'Hex bolt M8', 1200, 0.12, 'A-1']);
stock.addRow(['GX-101', 'Hex nut M8', 3400, 0.05, 'A-2']);
stock.addRow(['GX-200', 'Washer 8 mm', 5000, 0.01, 'B-1']);
await wb.xlsx.writeFile(path.join(inbox, 'globex_stock_2024-01.xlsx'));

const visits = XLSX.utils.aoa_to_sheet(
  [
    ['Visit Date', 'Visitor', 'Company', 'Minutes'],
    [new Date(Date.UTC(2024, 0, 30)), 'Ana García', 'Initech', 45],
    [new Date(Date.UTC(2024, 0, 30)), 'Luis Pérez', 'Initech', 30],
  ],
  { cellDates: true },
);
const book = XLSX.utils.book_new();
XLSX.utils.book_append_sheet(book, visits, 'Visits');
await writeFile(
  path.join(inbox, 'initech_visits.xls'),
  XLSX.write(book, { bookType: 'biff8', type: 'buffer' }),
);
