import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { defineParser, type ParseInput } from '../../core/plugin.js';
import { sheetBatches, sheetCell, sheetOptionFields } from './sheet-common.js';
import { openXlsxWorkbook } from './xlsx-workbook.js';

const options = z.strictObject(sheetOptionFields);

/**
 * Excel 2007+ workbooks (.xlsx). The file is copied to the scratch folder first: a zip's directory is at
 * its end, and the shared strings may come after the sheet. The sheet itself is streamed row by row, so
 * memory stays flat however long it is.
 */
export const xlsxParser = defineParser({
  name: 'xlsx',
  summary: 'Excel workbooks (.xlsx), streamed: one sheet, a header row, cached formula values, real dates.',
  options,
  async *parse(input, opts, context) {
    const dir = await mkdtemp(path.join(context.workDir, 'xlsx-'));
    try {
      const workbook = await openCopy(input, dir);
      yield* sheetBatches(workbook, opts, input.origin, context.signal);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
  async readCell(input, opts, cell, context) {
    const dir = await mkdtemp(path.join(context.workDir, 'xlsx-'));
    try {
      return await sheetCell(await openCopy(input, dir), opts, input.origin, cell);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
});

/** The workbook, from a copy of the input in `dir`. */
async function openCopy(input: ParseInput, dir: string) {
  const file = path.join(dir, 'book.xlsx');
  // An error reading the input is the source's (or the disk's), not the file's: it goes on as it is.
  await pipeline(input.stream, createWriteStream(file));
  return openXlsxWorkbook(file, input.origin);
}
