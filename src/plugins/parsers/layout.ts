import { z } from 'zod';
import type { Value } from '../../core/records.js';
import { regexProblem } from '../../core/regex.js';

// The layout contract every tabular parser shares (csv, xlsx, xls): the header a file must have and how a
// header that differs is described.

const expectedColumn = z.union([
  z
    .string()
    .min(1)
    .describe('The header text, compared trimmed and case-insensitively; also the column name.'),
  z.strictObject({
    name: z.string().min(1).describe('The column name downstream.'),
    any: z
      .literal(true)
      .optional()
      .describe('The header cell may carry any name (it changes between files).'),
    matches: z
      .string()
      .superRefine((pattern, ctx) => {
        const problem = regexProblem(pattern, 'i');
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('A regular expression the header cell must match (case-insensitive, unanchored).'),
  }),
]);

/** The `expectHeader` option, the same in every tabular parser. */
export const expectHeaderOption = z
  .array(expectedColumn)
  .min(1)
  .optional()
  .describe(
    'The header the file must have, column by column; a file that differs is rejected whole. ' +
      'The names given here are the column names downstream.',
  );

export type ExpectHeader = NonNullable<z.output<typeof expectHeaderOption>>;

/** One expected header cell, compiled: its name downstream, how to describe it, and its test. */
export interface ExpectedColumn {
  name: string;
  label: string;
  test(cell: string): boolean;
}

export function compileExpected(entries: ExpectHeader): ExpectedColumn[] {
  return entries.map((entry) => {
    const byName = (name: string): ExpectedColumn => {
      const want = name.trim().toLowerCase();
      return { name, label: JSON.stringify(name), test: (cell) => cell.trim().toLowerCase() === want };
    };
    if (typeof entry === 'string') return byName(entry);
    if (entry.any) return { name: entry.name, label: 'any name', test: () => true };
    if (entry.matches !== undefined) {
      const re = new RegExp(entry.matches, 'i');
      return {
        name: entry.name,
        label: `a name matching /${entry.matches}/i`,
        test: (cell) => re.test(cell.trim()),
      };
    }
    return byName(entry.name);
  });
}

/** Why a header differs from the expected one, or undefined when it matches. */
export function headerProblem(cells: string[], expected: ExpectedColumn[]): string | undefined {
  const found = (i: number) => JSON.stringify((cells[i] ?? '').trim());
  const extra: string[] = [];
  const missing: string[] = [];
  const wrong: string[] = [];
  let surplus = cells.length - expected.length;
  let i = 0;
  let j = 0;
  // Walks both lists; a count difference is put where the next column lines up again, so that an inserted
  // column is named as extra rather than making every later column look wrong.
  while (i < cells.length || j < expected.length) {
    const want = expected[j];
    const cell = cells[i];
    if (cell === undefined) {
      missing.push(want!.label);
      j++;
    } else if (want === undefined) {
      extra.push(found(i));
      i++;
    } else if (want.test(cell)) {
      i++;
      j++;
    } else if (surplus > 0 && cells[i + 1] !== undefined && want.test(cells[i + 1]!)) {
      extra.push(found(i));
      surplus--;
      i++;
    } else if (surplus < 0 && expected[j + 1]?.test(cell)) {
      missing.push(want.label);
      surplus++;
      j++;
    } else {
      wrong.push(`column ${i + 1}: expected ${want.label}, found ${found(i)}`);
      i++;
      j++;
    }
  }
  if (cells.length !== expected.length) {
    const notes = [
      ...(extra.length > 0 ? [`extra: ${extra.join(', ')}`] : []),
      ...(missing.length > 0 ? [`missing: ${missing.join(', ')}`] : []),
    ];
    const count = `expected ${expected.length} columns, found ${cells.length}`;
    return [notes.length > 0 ? `${count} (${notes.join('; ')})` : count, ...wrong].join('; ');
  }
  return wrong.length > 0 ? wrong.join('; ') : undefined;
}

/** Rows per batch, for every parser. */
export const batchSizeOption = z
  .number()
  .int()
  .min(1)
  .max(1_000_000)
  .default(500)
  .describe('Rows per batch. Small batches die young in the garbage collector (bench/README.md).');

/** A cell's value as text for `readCell`: trimmed, and undefined when it holds nothing. */
export function cellText(value: Value | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = (
    value instanceof Date
      ? value.toISOString().slice(0, 10)
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value)
  ).trim();
  return text === '' ? undefined : text;
}
