import path from 'node:path';
import { z } from 'zod';
import { isIsoDate } from './dates.js';
import { SluiceError } from './errors.js';
import { regexOption } from './regex.js';

// Datasets: each file a pipeline loads becomes a dataset (`sluice.datasets`) with a label and a date; a
// newer dataset of the same label and date supersedes the older one in the load's transaction. Import rules
// are pipelines with a `dataset:` section; loaders opt in (`capabilities.datasets`).

/** The column of every row loaded as part of a dataset that holds the dataset's id. */
export const DATASET_ID_COLUMN = 'dataset_id';

/**
 * A date format of `yyyy`/`yy`, `MM`/`M` and `dd`/`d` tokens with literal characters between them, such as
 * `yyyyMMdd` or `dd/MM/yyyy`.
 */
export function dateFormatProblem(format: string): string | undefined {
  const tokens = format.match(/yyyy|yy|MM|M|dd|d/g) ?? [];
  const has = (t: RegExp) => tokens.some((x) => t.test(x));
  if (!has(/^y/) || !has(/^M/) || !has(/^d/))
    return 'a date format needs a year (yyyy or yy), a month (MM) and a day (dd), such as yyyyMMdd';
  if (/[a-zA-Z]/.test(format.replace(/yyyy|yy|MM|M|dd|d/g, '')))
    return 'a date format knows only yyyy, yy, MM, M, dd and d (other letters must not appear)';
  return undefined;
}

/** Reads `text` with `format` (see {@link dateFormatProblem}) as `YYYY-MM-DD`; undefined if it does not fit. */
export function parseDate(text: string, format: string): string | undefined {
  const groups: string[] = [];
  const source = format.replace(/yyyy|yy|MM|M|dd|d|[^ymd]/g, (t) => {
    if (/^[yMd]+$/.test(t)) {
      groups.push(t[0]!);
      return t.length === 4 ? '(\\d{4})' : t.length === 2 ? '(\\d{2})' : '(\\d{1,2})';
    }
    return t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  const m = new RegExp(`^${source}$`).exec(text.trim());
  if (!m) return undefined;
  const part = (k: string) => m[groups.indexOf(k) + 1]!;
  let year = part('y');
  if (year.length === 2) year = `20${year}`;
  const iso = `${year}-${part('M').padStart(2, '0')}-${part('d').padStart(2, '0')}`;
  return isIsoDate(iso) ? iso : undefined;
}

const dateFormat = z.string().superRefine((value, ctx) => {
  const problem = dateFormatProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Where a dataset's date comes from: a part of the file name, a column, a cell, or a fixed value. */
export const datasetDateSchema = z.discriminatedUnion(
  'from',
  [
    z.strictObject({
      from: z.literal('filename'),
      delimiter: z
        .string({ error: 'the character(s) the file name is split on, such as "_"' })
        .min(1, 'the character(s) the file name is split on, such as "_"'),
      token: z
        .number({ error: 'which part of the split name holds the date (1 is the first)' })
        .int()
        .min(1, 'parts are counted from 1'),
      format: dateFormat.describe('How the part writes the date, such as yyyyMMdd.'),
    }),
    z.strictObject({
      from: z.literal('column'),
      column: z.string({ error: 'the column (as the file names it) holding the date' }).min(1),
      format: dateFormat.optional().describe('How the column writes the date; ISO (yyyy-MM-dd) by default.'),
    }),
    z.strictObject({
      from: z.literal('cell'),
      cell: z
        .string({ error: 'the cell holding the date, such as B2' })
        .regex(/^[A-Za-z]{1,3}[1-9][0-9]{0,6}$/, 'a cell reference such as B2'),
      format: dateFormat.optional().describe('How the cell writes the date; ISO (yyyy-MM-dd) by default.'),
    }),
    z.strictObject({
      from: z.literal('static'),
      value: z
        .string({ error: 'the date, as yyyy-MM-dd' })
        .refine(isIsoDate, 'a real date written yyyy-MM-dd'),
    }),
  ],
  { error: 'where the date comes from: filename, column, cell or static' },
);

export type DatasetDateSpec = z.output<typeof datasetDateSchema>;

/** The `dataset:` section of a pipeline. */
export const datasetSectionSchema = z
  .strictObject({
    label: z
      .string()
      .min(1)
      .default('{pipeline}')
      .describe(
        "The label of a file's dataset: {pipeline}, {rule}, {name} (the file name) and the groups of `match` ({1}, {client}) are filled in.",
      ),
    match: regexOption('a regular expression tested against the file name')
      .optional()
      .describe('A regular expression tested against the file name; its groups fill the label.'),
    rule: z
      .string()
      .min(1)
      .optional()
      .describe('The import rule the datasets come from (recorded with them).'),
    date: datasetDateSchema.optional().describe('Where the dataset date comes from; none by default.'),
  })
  .describe(
    'Each file becomes a dataset: its rows carry its id (column dataset_id), and a newer one of the same label and date supersedes the older.',
  );

export type DatasetSpec = z.output<typeof datasetSectionSchema>;

/** The label of a file's dataset: the template with {pipeline}, {rule}, {name} and `match`'s groups filled. */
export function datasetLabel(spec: DatasetSpec, pipeline: string, fileName: string): string {
  const match = spec.match ? new RegExp(spec.match).exec(fileName) : null;
  return spec.label.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, key: string) => {
    if (key === 'pipeline') return pipeline;
    if (key === 'rule') return spec.rule ?? pipeline;
    if (key === 'name') return fileName;
    const group = /^\d+$/.test(key) ? match?.[Number(key)] : match?.groups?.[key];
    return group ?? whole;
  });
}

/** The date part of a file name as `from: filename` settings say, as `YYYY-MM-DD`. Throws LAYOUT_MISMATCH. */
export function dateFromFileName(
  spec: Extract<DatasetDateSpec, { from: 'filename' }>,
  fileName: string,
): string {
  const stem = fileName.slice(0, fileName.length - path.extname(fileName).length);
  const parts = stem.split(spec.delimiter);
  const part = parts[spec.token - 1];
  const date = part === undefined ? undefined : parseDate(part, spec.format);
  if (date) return date;
  throw new SluiceError(
    'LAYOUT_MISMATCH',
    part === undefined
      ? `the file name has ${parts.length} parts split on "${spec.delimiter}", no part ${spec.token} to read the dataset date from`
      : `part ${spec.token} of the file name ("${part}") is not a date written ${spec.format}`,
    { where: fileName, hint: 'Rename the file, or fix the dataset date settings.' },
  );
}

/** A date read from the content (a cell or column value): ISO text, or text in the given format. */
export function dateFromValue(
  value: string | null | undefined,
  format: string | undefined,
): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  const iso = /^(\d{4}-\d{2}-\d{2})(?:[ T].*)?$/.exec(text)?.[1];
  if (iso && isIsoDate(iso)) return iso;
  return format ? parseDate(text, format) : undefined;
}
