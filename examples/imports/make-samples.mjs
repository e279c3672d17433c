// Writes the sample workbooks of this example (globex_stock_2024-01.xlsx, initech_visits.xls) into the
// folder given, by default .sluice/imports/samples (the copies in inbox/ were written with
// `node examples/imports/make-samples.mjs examples/imports/inbox`).
// Run: node examples/imports/make-samples.mjs [FOLDER]
/* global process, console */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import ExcelJS from 'exceljs';

const inbox = path.resolve(process.argv[2] ?? path.join('.sluice', 'imports', 'samples'));
await mkdir(inbox, { recursive: true });

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

console.log(`wrote globex_stock_2024-01.xlsx and initech_visits.xls in ${inbox}`);
