import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { requireReadableFile } from '../core/config-text.js';
import { isSluiceError, SluiceError } from '../core/errors.js';
import {
  parseColumnRange,
  pickSheet,
  sheetBatches,
  sheetOptionFields,
  type Workbook,
} from '../plugins/parsers/sheet-common.js';
import { openXlsWorkbook } from '../plugins/parsers/xls-workbook.js';
import { openXlsxWorkbook } from '../plugins/parsers/xlsx-workbook.js';
import { z } from 'zod';
import { EXIT, formatCount, reportError } from './shared.js';

/** The output file is shared with a group (etl_group). */
const OUTPUT_MODE = 0o660;

/** The layout of a sheet as an import reads it; without headerRow or skipRows, the whole sheet is written. */
export interface ConvertOptions {
  sheet?: string | number;
  out?: string;
  headerRow?: number;
  skipRows?: number;
  columns?: string;
}

export interface ConvertResult {
  out: string;
  sheet: string;
  rows: number;
  columns: number;
  /** Rows an import would leave out (import reading only). */
  rejected: number;
}

/** The command-line flag of each parse option, for messages and hints. */
const FLAGS: Record<string, string> = {
  sheet: '--sheet',
  headerRow: '--header-row',
  skipRows: '--skip-rows',
  columns: '--columns',
};

/** One field of RFC 4180 CSV: quoted when it holds the delimiter, a quote, CR or LF. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value as string);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csvLine = (fields: readonly unknown[]) => `${fields.map(csvField).join(',')}\r\n`;

async function openWorkbook(file: string): Promise<Workbook> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.xlsx' && ext !== '.xlsm' && ext !== '.xls') {
    throw new SluiceError('CONFIG_INVALID', `cannot convert ${file}: expected a .xls or .xlsx file`, {
      where: file,
    });
  }
  await requireReadableFile(file);
  const origin = path.basename(file);
  if (ext === '.xls') {
    return openXlsWorkbook(await readFile(file), origin, (m) => process.stderr.write(`sluice: ${m}\n`));
  }
  return openXlsxWorkbook(file, origin);
}

/**
 * Converts one sheet to CSV. By default every row that holds a value is written, each at the sheet's full
 * width (the last column holding a value anywhere in the sheet): no header contract, nothing left out. With
 * headerRow or skipRows, the sheet is read as an import reads it, header first. Written to a temporary name
 * and renamed: a reader never sees half a file.
 */
export async function convertToCsv(file: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const workbook = await openWorkbook(file);
  let closed = false;
  try {
    const sheet = pickSheet(workbook.sheetNames, options.sheet);
    if (sheet === undefined) throw missingSheet(options.sheet ?? 1, workbook.sheetNames);
    const out = options.out ?? file.replace(/\.[^./\\]*$/, '') + '.csv';
    const asImport = options.headerRow !== undefined || options.skipRows !== undefined;
    return await writeAtomically(out, async (write) => {
      if (!asImport)
        return { out, sheet, rejected: 0, ...(await writeWholeSheet(workbook, sheet, options, write)) };
      closed = true; // sheetBatches closes the workbook
      return { out, sheet, ...(await writeAsImport(workbook, sheet, options, file, write)) };
    });
  } catch (error) {
    throw isSluiceError(error) ? forCommandLine(error) : error;
  } finally {
    if (!closed) workbook.close();
  }
}

type Write = (text: string) => Promise<void>;

async function writeWholeSheet(
  workbook: Workbook,
  sheet: string,
  options: ConvertOptions,
  write: Write,
): Promise<{ rows: number; columns: number }> {
  const [first, last] = options.columns ? parseColumnRange(options.columns) : [1, Infinity];
  const inRange = (cells: (string | null)[]) => cells.slice(first - 1, last === Infinity ? undefined : last);
  // First pass: the width, the last column holding a value in any row. (The sheet's stated dimension is
  // often wrong, and a row wider than the ones before it would come too late in one pass.)
  let width = 0;
  for await (const row of workbook.rows(sheet)) {
    const cells = inRange(row.cells);
    for (let i = cells.length - 1; i >= width; i--) {
      if (cells[i] != null) {
        width = i + 1;
        break;
      }
    }
  }
  let rows = 0;
  for await (const row of workbook.rows(sheet)) {
    const cells = inRange(row.cells);
    if (!cells.some((c) => c != null)) continue;
    cells.length = width;
    for (let i = 0; i < width; i++) cells[i] ??= null;
    await write(csvLine(cells));
    rows++;
  }
  return { rows, columns: width };
}

async function writeAsImport(
  workbook: Workbook,
  sheet: string,
  options: ConvertOptions,
  file: string,
  write: Write,
): Promise<{ rows: number; columns: number; rejected: number }> {
  const opts = z.strictObject(sheetOptionFields).parse({
    sheet,
    ...(options.headerRow !== undefined ? { headerRow: options.headerRow } : {}),
    ...(options.skipRows !== undefined ? { skipRows: options.skipRows } : {}),
    ...(options.columns !== undefined ? { columns: options.columns } : {}),
  });
  const signal = new AbortController().signal;
  let rows = 0;
  let rejected = 0;
  let columns = 0;
  let header = false;
  for await (const { batch, rejects, rejectedRows } of sheetBatches(
    workbook,
    opts,
    path.basename(file),
    signal,
  )) {
    if (!header) {
      columns = batch.columns.length;
      await write(csvLine(batch.columns.map((c) => c.name)));
      header = true;
    }
    for (const row of batch.rows) await write(csvLine(row));
    rows += batch.rows.length;
    rejected += rejectedRows;
    for (const r of rejects)
      process.stderr.write(`sluice: ${r.origin}:${r.line}: ${r.message}, row left out\n`);
  }
  return { rows, columns, rejected };
}

/** Runs `work` writing to a temporary file beside `out`, then renames it to `out` (mode 0660). */
async function writeAtomically<T>(out: string, work: (write: Write) => Promise<T>): Promise<T> {
  const temp = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
  const output = createWriteStream(temp, { mode: OUTPUT_MODE });
  const opened = new Promise<void>((resolve, reject) => {
    output.once('open', () => resolve());
    output.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { where: '--out' },
    );
  }
  const write: Write = async (text) => {
    if (!output.write(text)) {
      await new Promise<void>((resolve, reject) => {
        output.once('drain', resolve);
        output.once('error', reject);
      });
    }
  };
  try {
    const result = await work(write);
    output.end();
    await finished(output);
    // The umask may have cleared bits of the mode given at creation.
    await chmod(temp, OUTPUT_MODE);
    await rename(temp, out);
    return result;
  } catch (error) {
    output.destroy();
    await rm(temp, { force: true });
    throw error;
  }
}

function missingSheet(wanted: string | number, sheets: string[]): SluiceError {
  const which = typeof wanted === 'number' ? `sheet ${wanted}` : `sheet "${wanted}"`;
  const there =
    sheets.length === 0
      ? 'the workbook has no sheets'
      : `its sheets are ${sheets.map((s) => `"${s}"`).join(', ')}`;
  return new SluiceError('CONFIG_INVALID', `${which} is not in the workbook: ${there}`, {
    where: '--sheet',
    hint: 'Give --sheet one of the sheet names, or a position (1 is the first sheet).',
  });
}

/** The parsers' messages name pipeline keys (parse.headerRow); on the command line, the flags. */
function forCommandLine(error: SluiceError): SluiceError {
  const rename = (text: string | undefined) =>
    text?.replace(/\bparse\.(sheet|headerRow|skipRows|columns)\b/g, (_, key: string) => FLAGS[key]!);
  const message = rename(error.message)!;
  const hint = rename(error.hint);
  if (message === error.message && hint === error.hint) return error;
  return new SluiceError(error.code, message, {
    retryable: error.retryable,
    cause: error.cause,
    ...(error.where !== undefined ? { where: error.where } : {}),
    ...(hint !== undefined ? { hint } : {}),
  });
}

/** A flag's value as a whole number of at least `min`, or a usage error naming the flag. */
function wholeNumber(flag: string, value: string | undefined, min: number, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) {
    throw new SluiceError('CONFIG_INVALID', `${flag}: expected ${what}, found "${value}"`, { where: flag });
  }
  return Number(value);
}

interface ConvertFlags {
  sheet?: string;
  out?: string;
  headerRow?: string;
  skipRows?: string;
  columns?: string;
}

/** The flags as options; a bad value is a usage error naming the flag. */
function convertOptions(flags: ConvertFlags): ConvertOptions {
  const options: ConvertOptions = {};
  if (flags.sheet !== undefined) {
    if (flags.sheet.trim() === '') {
      throw new SluiceError('CONFIG_INVALID', '--sheet: expected a sheet name or position, found ""', {
        where: '--sheet',
      });
    }
    options.sheet = /^\d+$/.test(flags.sheet) ? Number(flags.sheet) : flags.sheet;
    if (options.sheet === 0) {
      throw new SluiceError('CONFIG_INVALID', '--sheet: positions start at 1 (the first sheet), found "0"', {
        where: '--sheet',
      });
    }
  }
  if (flags.out !== undefined) options.out = flags.out;
  const headerRow = wholeNumber('--header-row', flags.headerRow, 1, 'a row number (1 is the first row)');
  if (headerRow !== undefined) options.headerRow = headerRow;
  const skipRows = wholeNumber('--skip-rows', flags.skipRows, 0, 'a number of rows (0 or more)');
  if (skipRows !== undefined) options.skipRows = skipRows;
  if (flags.columns !== undefined) {
    const checked = sheetOptionFields.columns.safeParse(flags.columns);
    if (!checked.success) {
      const why = checked.error.issues[0]?.message ?? 'a column range such as "A:F"';
      throw new SluiceError('CONFIG_INVALID', `--columns: ${why} (found "${flags.columns}")`, {
        where: '--columns',
      });
    }
    options.columns = flags.columns.toUpperCase();
  }
  return options;
}

export function registerConvert(program: Command, exit: (code: number) => void) {
  program
    .command('convert')
    .description(
      'Convert a sheet of an Excel workbook (.xls or .xlsx) to CSV: every row that holds a value, at the ' +
        "sheet's full width; with --header-row or --skip-rows, as an import would read it",
    )
    .argument('<file>', 'the workbook (.xls or .xlsx)')
    .option('--sheet <sheet>', 'the sheet: its name, or its position (1 is the first); the first by default')
    .option('--out <file>', 'the CSV file to write; the workbook path with .csv by default')
    .option('--header-row <n>', 'read as an import: the row holding the column names (1 is the first row)')
    .option('--skip-rows <n>', 'read as an import: rows to skip right after the header row')
    .option('--columns <range>', 'only these columns, such as A:F')
    // A flag that does not exist, or a missing file argument, is wrong usage: exit 2, as for a bad value.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage))
    .action(async (file: string, flags: ConvertFlags) => {
      try {
        const result = await convertToCsv(file, convertOptions(flags));
        process.stdout.write(
          `${file} → ${result.out}: ${formatCount(result.rows)} rows, ${formatCount(result.columns)} columns ` +
            `(sheet "${result.sheet}")\n`,
        );
        if (result.rejected > 0) {
          process.stderr.write(
            `sluice: ${formatCount(result.rejected)} rows had cells right of the last header column and were left out\n`,
          );
          exit(EXIT.failed);
          return;
        }
        exit(EXIT.ok);
      } catch (error) {
        exit(await reportError(error));
      }
    });
}
