/** The small SQL surface plugins see. Implemented over `pg` and over PGlite with the same behaviour. */
export interface SqlClient {
  readonly dialect: 'postgres';
  query<R extends object = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>;
  /** Runs a script of one or more statements without parameters (migrations, user SQL steps). */
  exec(script: string): Promise<void>;
  /**
   * Streams rows in PostgreSQL COPY text format into `table (columns)`. Each chunk holds whole lines,
   * as text or as UTF-8 bytes. Returns the number of rows copied.
   */
  copyFrom(
    table: TableName,
    columns: readonly string[],
    chunks: AsyncIterable<string | Uint8Array>,
  ): Promise<number>;
}

/** A table, optionally in a schema. Names are raw: they are quoted where SQL is written. */
export interface TableName {
  schema?: string;
  name: string;
}

/** Quotes an identifier for PostgreSQL: every identifier Sluice writes goes through here. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('an SQL identifier cannot be empty');
  if (name.includes('\u0000')) throw new Error('an SQL identifier cannot contain a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."table"` or `"table"`. */
export function quoteTable(table: TableName): string {
  return table.schema ? `${quoteIdent(table.schema)}.${quoteIdent(table.name)}` : quoteIdent(table.name);
}

/** Reads `schema.table` or `table` (no quoting syntax: dots separate). */
export function parseTableName(text: string): TableName {
  const dot = text.indexOf('.');
  if (dot < 0) return { name: text };
  return { schema: text.slice(0, dot), name: text.slice(dot + 1) };
}

/**
 * Escapes one value for COPY text format: backslash, tab, newline and carriage return are escaped, and
 * NULL is `\N`. See https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2
 */
export function copyTextValue(value: string): string {
  // Fast path: most values need no escaping.
  if (!/[\\\t\n\r]/.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

/** PostgreSQL's default limit on identifier length, in bytes (NAMEDATALEN - 1). */
export const POSTGRES_MAX_IDENTIFIER_BYTES = 63;

/**
 * Turns a header into a safe, readable column name: lower case, spaces and dashes to `_`, other unsafe
 * characters dropped, at most `maxBytes` bytes. Never empty.
 */
export function normalizeColumnName(header: string, maxBytes = POSTGRES_MAX_IDENTIFIER_BYTES): string {
  let name = header
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s\-./]+/g, '_')
    .replace(/[^a-z0-9_]/g, '')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (name === '') name = 'column';
  if (/^[0-9]/.test(name)) name = `c_${name}`;
  return name.slice(0, maxBytes);
}

/**
 * The column names a load gives a file's headers: normalized (or kept as they are), a repeated name made
 * unique with `_2`, `_3`… within the identifier length. The one rule, so the mapping a dataset records is
 * the one the loader used.
 */
export function targetColumnNames(
  headers: readonly string[],
  mode: 'normalize' | 'keep' = 'normalize',
  maxBytes = POSTGRES_MAX_IDENTIFIER_BYTES,
): string[] {
  const taken = new Set<string>();
  return headers.map((header) => {
    const base = mode === 'normalize' ? normalizeColumnName(header, maxBytes) : header;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base.slice(0, maxBytes - String(n).length - 1)}_${n}`;
    taken.add(name);
    return name;
  });
}

/** `postgres://user:***@host/db`: a URL that can be printed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable database URL>';
  }
}
