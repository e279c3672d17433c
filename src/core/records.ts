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
  /**
   * The type a SQL source read the column as, when it knows it: loaders create the column with it (so that a
   * sync keeps `timestamptz`, `numeric(12,2)`, arrays…) as long as `type` still agrees with it (see
   * {@link sqlTypeFits}); a check that gives the column another type wins.
   */
  sqlType?: SqlType;
}

/** The portable kinds of {@link SqlType}: what a column holds, whatever the database. */
export type SqlBaseType =
  | 'boolean'
  | 'smallint'
  | 'integer'
  | 'bigint'
  | 'numeric'
  | 'real'
  | 'double'
  | 'text'
  | 'date'
  | 'time'
  | 'timestamp'
  /** An instant: PostgreSQL `timestamptz`, MySQL `TIMESTAMP`. Values carry their offset (`+00`). */
  | 'timestamptz'
  | 'interval'
  /** JSON kept as written (PostgreSQL `json`). */
  | 'json'
  /** JSON stored parsed (PostgreSQL `jsonb`, MySQL `JSON`). */
  | 'jsonb'
  | 'uuid';

/**
 * A source column's type in detail. `base` (with `precision`, `scale`, `array`) is what any loader can map;
 * `native`, when the source gives it, is the exact declaration for a loader of the same database (built-in
 * types only, such as PostgreSQL's `inet` or `character varying(20)`).
 */
export interface SqlType {
  base: SqlBaseType;
  /** numeric: total digits; time, timestamp, timestamptz: digits of the fractional second. */
  precision?: number;
  /** numeric: digits after the point. */
  scale?: number;
  /** An array of `base` (PostgreSQL). */
  array?: boolean;
  native?: { dialect: 'postgres' | 'mysql'; type: string };
}

const COARSE: Record<SqlBaseType, ColumnType> = {
  boolean: 'boolean',
  smallint: 'integer',
  integer: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  real: 'numeric',
  double: 'numeric',
  text: 'text',
  date: 'date',
  time: 'text',
  timestamp: 'timestamp',
  timestamptz: 'timestamp',
  interval: 'text',
  json: 'json',
  jsonb: 'json',
  uuid: 'text',
};

/** The {@link ColumnType} a SQL type is (what checks and the loaders' defaults know): an array is text. */
export function columnTypeOfSql(type: SqlType): ColumnType {
  return type.array ? 'text' : COARSE[type.base];
}

/** The column's {@link SqlType} when its {@link ColumnType} still agrees with it (no check changed it). */
export function sqlTypeFits(column: Column): SqlType | undefined {
  const sql = column.sqlType;
  if (!sql) return undefined;
  return column.type === undefined || column.type === columnTypeOfSql(sql) ? sql : undefined;
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
