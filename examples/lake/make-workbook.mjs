// Writes a series workbook in the shape of a central bank's daily series sheet: a title and
// notes above the header, a row of units under it, dates in column A and one series per column, values
// written as the bank writes them (1.234,5). One workbook per call, with observations up to a date.
// Run: node examples/lake/make-workbook.mjs FOLDER [--until YYYY-MM-DD]   (default until 2026-01-10)
/* global process, console */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';

const args = process.argv.slice(2);
const folder = path.resolve(
  args.find((a) => !a.startsWith('--')) ?? path.join('.sluice', 'lake-demo', 'inbox'),
);
const untilArg = args.indexOf('--until');
const until = new Date(`${untilArg >= 0 ? args[untilArg + 1] : '2026-01-10'}T00:00:00Z`);
const from = new Date('2025-12-20T00:00:00Z');
if (Number.isNaN(until.getTime()) || until < from) throw new Error('--until takes a date after 2025-12-20');
await mkdir(folder, { recursive: true });

// Spanish number text: a decimal comma and dots between thousands.
const es = (n) => n.toLocaleString('es-AR', { minimumFractionDigits: 1, maximumFractionDigits: 2 });

const book = new ExcelJS.Workbook();
const sheet = book.addWorksheet('Series diarias');
sheet.addRow(['Principales variables - series diarias']);
sheet.addRow(['Fuente: ejemplo generado para Sluice']);
sheet.addRow([]);
sheet.addRow(['Fecha', 'Reservas internacionales', 'Base monetaria', 'Tipo de cambio']); // row 4: header
sheet.addRow(['', 'millones de USD', 'millones de $', '$ por USD']); // row 5: units, skipped
let day = 0;
for (let d = new Date(from); d <= until; d = new Date(d.getTime() + 86_400_000), day++) {
  const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6;
  sheet.addRow([
    d, // a real date cell
    es(41234.5 + day * 10.25),
    es(29876543.25 + day * 1000),
    weekend ? '' : es(1045.5 + day * 0.5), // no quote on weekends: rows without a value are dropped
  ]);
}
sheet.getColumn(1).numFmt = 'dd/mm/yyyy';
sheet.addRow([]);
sheet.addRow(['Nota: datos provisorios']);

const name = `series_${until.toISOString().slice(0, 10).replace(/-/g, '')}.xlsx`;
await book.xlsx.writeFile(path.join(folder, name));
console.log(`wrote ${name} in ${folder}`);
