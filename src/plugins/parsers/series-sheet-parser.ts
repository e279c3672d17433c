import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineParser, type BatchResult } from '../../core/plugin.js';
import type { Column, Reject, Row } from '../../core/records.js';
import { plural } from '../../core/text.js';
import { columnNumber, missingSheet, pickSheet, type Workbook } from './sheet-common.js';
import { openXlsWorkbook } from './xls-workbook.js';
import { openXlsxWorkbook } from './xlsx-workbook.js';

const column = z
  .string()
  .regex(/^[A-Za-z]{1,3}$/, 'a column letter such as "A" or "AB"')
  .describe('A column letter.');

const seriesEntry = z.strictObject({
  code: z.string().min(1).describe('The series code (internal_series_code) its rows get.'),
  sheet: z
    .union([z.string().min(1), z.number().int().min(1)])
    .optional()
    .describe('Its sheet: a name or a position (1 is the first). The first sheet by default.'),
  headerRow: z.number().int().min(1).default(1).describe('The row holding the headers; data starts below.'),
  skipRows: z.number().int().min(0).default(0).describe('Rows skipped right after the header row.'),
  dateColumn: column.describe('The column of the observation dates.'),
  valueColumn: column.describe("The column of the series' values."),
  unit: z.string().optional().describe('The unit of its values (millions of USD, %).'),
  frequency: z.string().optional().describe('How often it is observed (daily, monthly…).'),
});

const options = z.strictObject({
  series: z
    .array(seriesEntry)
    .min(1)
    .describe('The series map: where each series is in the workbook, and what its values are.'),
  incremental: z
    .boolean()
    .default(true)
    .describe(
      "Only observations newer than the series' newest committed one pass; the mark moves when the load commits.",
    ),
  batchSize: z.number().int().min(1).default(10_000).describe('Rows per batch.'),
});

type Options = z.output<typeof options>;

const COLUMNS: Column[] = [
  { name: 'obs_time', type: 'timestamp' },
  { name: 'internal_series_code', type: 'text' },
  { name: 'value' },
  { name: 'unit', type: 'text' },
  { name: 'frequency', type: 'text' },
  { name: 'collection_time', type: 'timestamp' },
];

const ISO = /^(\d{4}-\d\d-\d\d)(?: (\d\d:\d\d:\d\d))?$/;

/** The state key of a series' newest committed observation. */
export const seriesStateKey = (code: string) => `series:${code}`;

/**
 * Wide series workbooks (seed 002) into long rows: for each series of the map, its sheet's rows below the
 * header (and the rows skipped) give one row per observation — obs_time (the date cell, as written: a
 * normalize step gives it a zone; the data ends at the first row without a date), internal_series_code, value (the cell's text: numbers as written, for
 * normalize or a decimal check), unit, frequency, and collection_time (when the file was read, UTC). With
 * `incremental`, an observation not newer than the series' committed mark is left out, and the new mark
 * is handed to the runner, which saves it with the load.
 */
export const seriesSheetParser = defineParser({
  name: 'seriesSheet',
  summary:
    'Series workbooks (.xlsx, .xls) turned long by a series map: one row per observation, per-series incremental state.',
  options,
  async *parse(input, opts: Options, context) {
    const dir = await mkdtemp(path.join(context.workDir, 'series-'));
    try {
      const book = await openBook(input.stream, input.origin, dir, (m) => context.logger.warn(m));
      const collected = isoSeconds(new Date());
      const marks: Record<string, string> = {};
      let rows: Row[] = [];
      let lines: number[] = [];
      let rejects: Reject[] = [];
      let kept = 0;
      let older = 0;
      const flush = (last: boolean): BatchResult => {
        const out: BatchResult = {
          batch: { columns: COLUMNS, rows, lines, origin: input.origin },
          rejects,
          rejectedRows: rejects.length,
          ...(last && Object.keys(marks).length > 0
            ? { state: Object.fromEntries(Object.entries(marks).map(([c, t]) => [seriesStateKey(c), t])) }
            : {}),
        };
        rows = [];
        lines = [];
        rejects = [];
        return out;
      };
      try {
        for (const s of opts.series) {
          const sheet = pickSheet(book.sheetNames, s.sheet);
          if (sheet === undefined) throw missingSheet(input.origin, s.sheet ?? 1, book.sheetNames);
          const committed = opts.incremental
            ? await context.state?.get<string>(seriesStateKey(s.code))
            : undefined;
          const dateAt = columnNumber(s.dateColumn) - 1;
          const valueAt = columnNumber(s.valueColumn) - 1;
          const firstData = s.headerRow + s.skipRows + 1;
          let started = false;
          let previous = 0;
          for await (const row of book.rows(sheet)) {
            if (row.number < firstData) continue;
            const date = row.cells[dateAt]?.trim() ?? '';
            // The data ends at the first row without a date (a blank row may not be listed at all): notes
            // under it are not observations.
            if (started && (date === '' || row.number > previous + 1)) break;
            previous = row.number;
            if (date === '') continue;
            started = true;
            const m = ISO.exec(date);
            if (!m) {
              rejects.push({
                origin: `${input.origin} [${sheet}]`,
                line: row.number,
                column: s.dateColumn.toUpperCase(),
                rule: 'seriesDate',
                value: date,
                message: `series ${s.code}: not a date (a date cell, or text as YYYY-MM-DD)`,
                raw: null,
              });
              continue;
            }
            const obs = `${m[1]} ${m[2] ?? '00:00:00'}`;
            if (committed !== undefined && obs <= committed) {
              older++;
              continue;
            }
            if (!marks[s.code] || obs > marks[s.code]!) marks[s.code] = obs;
            rows.push([
              obs,
              s.code,
              row.cells[valueAt] ?? null,
              s.unit ?? null,
              s.frequency ?? null,
              collected,
            ]);
            lines.push(row.number);
            kept++;
            if (rows.length >= opts.batchSize) yield flush(false);
          }
        }
      } finally {
        book.close();
      }
      context.logger.info(
        `${input.origin}: ${plural(opts.series.length, 'series', 'series')}, ${plural(kept, 'new observation')}` +
          (older > 0 ? `, ${plural(older, 'observation')} already loaded` : ''),
        { outcome: true },
      );
      yield flush(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
});

function isoSeconds(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

async function openBook(
  stream: Readable,
  origin: string,
  dir: string,
  warn: (m: string) => void,
): Promise<Workbook> {
  if (/\.xls$/i.test(origin)) {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return openXlsWorkbook(Buffer.concat(chunks), origin, warn);
  }
  if (!/\.xlsx$/i.test(origin))
    throw new SluiceError('PARSE_FAILED', `${origin} is not a workbook (.xlsx or .xls)`, { where: origin });
  const file = path.join(dir, 'book.xlsx');
  await pipeline(stream, createWriteStream(file));
  return openXlsxWorkbook(file, origin);
}
