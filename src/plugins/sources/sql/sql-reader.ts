import type { Column, Value } from '../../../core/records.js';
import { SluiceError } from '../../../core/errors.js';
import type { ReadFrom } from './sql-options.js';

/** One read of the source: its columns, its rows in chunks, and the watermark once the rows are read. */
export interface SourceRead {
  columns: Column[];
  rows: AsyncIterable<Value[][]>;
  /** The greatest incremental value among the rows read; undefined when nothing was read. */
  watermark(): string | undefined;
}

/** A database the sql source reads from (PostgreSQL or MySQL/MariaDB). */
export interface SqlReader {
  read(from: ReadFrom, signal: AbortSignal): Promise<SourceRead>;
  close(): Promise<void>;
}

/**
 * The column a filter compares, checked: it must be among the columns read, and a lookback needs a date or
 * timestamp column.
 */
export function incrementalField<F extends { name: string }>(
  from: Exclude<ReadFrom, { kind: 'all' }>,
  fields: readonly F[],
  isDate: (field: F) => boolean,
): F {
  const field = fields.find((f) => f.name === from.column);
  if (!field) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `the incremental column ${from.column} is not among the columns read`,
      {
        where: 'source.incrementalColumn',
        hint: `The source has: ${fields.map((f) => f.name).join(', ')}`,
      },
    );
  }
  if (from.lookbackMs > 0 && !isDate(field)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `lookback needs a date or timestamp incremental column; ${from.column} is not one`,
      { where: 'source.lookback' },
    );
  }
  return field;
}
