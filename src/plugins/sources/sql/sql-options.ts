import { z } from 'zod';
import { durationOrZeroSchema } from '../../../core/duration-schema.js';
import { withRenamedKeys } from '../../../core/renamed-keys.js';

export const syncModes = ['incremental', 'full_refresh', 'sliding_window'] as const;
export type SyncMode = (typeof syncModes)[number];

export const sqlSourceOptions = withRenamedKeys(
  'sql',
  z
    .strictObject({
      url: z
        .string()
        .regex(/^(postgres|postgresql|mysql|mariadb):\/\//, 'a postgres://, mysql:// or mariadb:// URL')
        .describe('The source database (credentials through ${VAR}); postgres:// or mysql:// (mariadb://).'),
      table: z.string().min(1).optional().describe('The table to read, `table` or `schema.table`.'),
      query: z
        .string()
        .min(1)
        .optional()
        .describe('A SELECT to read instead of a table; the incremental filter wraps it.'),
      columns: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe('Columns of the table to read (default: all).'),
      primaryKey: z
        .array(z.string().min(1))
        .default([])
        .describe('Key columns: a row whose key is null is a reject (the loader upserts on its own keys).'),
      incrementalColumn: z
        .string()
        .min(1)
        .optional()
        .describe(
          'A column that grows with changes (an update time, a date, an id): the watermark follows it.',
        ),
      mode: z
        .enum(syncModes)
        .optional()
        .describe(
          'incremental: rows past the watermark, or with lookback rows at or after the watermark less lookback; full_refresh: every row; sliding_window: rows at or after the watermark less lookback (the first run: today less lookback). Default: incremental with an incrementalColumn, else full_refresh.',
        ),
      lookback: durationOrZeroSchema
        .optional()
        .describe(
          'How far before the watermark to read again, so that late rows are picked up (date/timestamp columns), such as 7d: rows at or after watermark − lookback, the boundary included.',
        ),
      batchSize: z.number().int().min(1).max(1_000_000).default(10_000).describe('Rows per batch.'),
      tinyint1AsBoolean: z
        .boolean()
        .optional()
        .describe(
          'MySQL/MariaDB: read TINYINT(1) columns as booleans (0 false, anything else true), so that a table Sluice creates from them has a boolean column. Default: they stay small integers.',
        ),
    })
    .superRefine((o, ctx) => {
      if ((o.table === undefined) === (o.query === undefined))
        ctx.addIssue({ code: 'custom', message: 'give either table or query', path: ['table'] });
      if (o.query !== undefined && o.columns !== undefined)
        ctx.addIssue({
          code: 'custom',
          message: 'columns goes with table; a query names its own',
          path: ['columns'],
        });
      const mode = o.mode ?? (o.incrementalColumn ? 'incremental' : 'full_refresh');
      if (mode !== 'full_refresh' && !o.incrementalColumn)
        ctx.addIssue({
          code: 'custom',
          message: `mode ${mode} needs an incrementalColumn`,
          path: ['incrementalColumn'],
        });
      if (o.tinyint1AsBoolean !== undefined && !/^(mysql|mariadb):/.test(o.url))
        ctx.addIssue({
          code: 'custom',
          message: 'tinyint1AsBoolean is for mysql:// and mariadb:// sources',
          path: ['tinyint1AsBoolean'],
        });
      if (mode === 'sliding_window' && o.lookback === undefined)
        ctx.addIssue({ code: 'custom', message: 'sliding_window needs lookback', path: ['lookback'] });
    }),
);

type ParsedOptions = z.output<typeof sqlSourceOptions>;
/** The options with the mode decided (incremental when there is an incremental column, else full refresh). */
export type SqlSourceOptions = ParsedOptions & { mode: SyncMode };

export function withMode(o: ParsedOptions): SqlSourceOptions {
  return { ...o, mode: o.mode ?? (o.incrementalColumn ? 'incremental' : 'full_refresh') };
}

/** The saved watermark: the greatest value of the column actually loaded, as the database prints it. */
export interface Watermark {
  column: string;
  value: string;
}

/** Where the read starts, decided from the mode and the saved watermark. */
export type ReadFrom =
  | { kind: 'all' }
  /** Rows with column > value; with a lookback, rows with column >= value − lookback. */
  | { kind: 'after'; column: string; value: string; lookbackMs: number }
  /** Rows with column >= today − lookback. */
  | { kind: 'recent'; column: string; lookbackMs: number };

export function readFrom(options: SqlSourceOptions, saved: Watermark | undefined): ReadFrom {
  const column = options.incrementalColumn;
  if (options.mode === 'full_refresh' || !column) return { kind: 'all' };
  const usable = saved && saved.column === column ? saved : undefined;
  if (usable) return { kind: 'after', column, value: usable.value, lookbackMs: options.lookback ?? 0 };
  if (options.mode === 'sliding_window') return { kind: 'recent', column, lookbackMs: options.lookback ?? 0 };
  return { kind: 'all' };
}
