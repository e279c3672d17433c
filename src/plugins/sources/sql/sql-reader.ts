import type { Column, Value } from '../../../core/records.js';
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
