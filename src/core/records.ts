/** A cell value. Parsers produce strings or null; checks turn them into canonical text for their type. */
export type Value = string | number | boolean | bigint | Date | null | Record<string, unknown> | unknown[];

/** A row is positional: `row[i]` belongs to `columns[i]` of its batch. */
export type Row = Value[];

/** The SQL-facing type a check gives a column. `text` when nothing is known. */
export type ColumnType =
  'text' | 'integer' | 'bigint' | 'numeric' | 'boolean' | 'date' | 'timestamp' | 'json';

export interface Column {
  name: string;
  type?: ColumnType;
}

/**
 * A batch of rows that share columns and an origin. `lines[i]` is the source line where `rows[i]` starts
 * (1 is the first line of the file, the header included); `raw[i]`, when the parser keeps it, is the row's
 * text as read, so that a reject can show it.
 */
export interface RecordBatch {
  columns: Column[];
  rows: Row[];
  /** The file (or key) the rows came from. */
  origin: string;
  lines: number[];
  raw?: string[];
}

/** A rejected row, or a whole file rejected at one line. One reject is one rule broken. */
export interface Reject {
  origin: string;
  line: number | null;
  column: string | null;
  rule: string;
  value: string | null;
  message: string;
  raw: string | null;
}

/** A batch split into what passed and what was rejected. */
export interface CheckedBatch {
  batch: RecordBatch;
  rejects: Reject[];
  /** Number of distinct rows rejected (a row may break several rules). */
  rejectedRows: number;
}
