import { SluiceError } from './errors.js';

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

/**
 * Quotes an identifier for PostgreSQL: every identifier Sluice writes goes through here. Names from files are
 * checked before (see {@link planColumnNames}); this is the last guard.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new SluiceError('TARGET_MISMATCH', 'an SQL identifier cannot be empty');
  if (name.includes('\u0000'))
    throw new SluiceError('TARGET_MISMATCH', 'an SQL identifier cannot contain a NUL character');
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
 * How a database names columns, for {@link planColumnNames}: the length limit and its unit, names it keeps
 * for itself, and when two names are the same column to it.
 */
export interface IdentifierRules {
  /** The database's name, for messages. */
  label: string;
  maxLength: number;
  /** What `maxLength` counts: UTF-8 bytes (PostgreSQL) or characters (MySQL). */
  unit: 'bytes' | 'characters';
  /** Names taken by the database (PostgreSQL's system columns): such a column gets `_` appended. */
  reserved?: readonly string[];
  /** The form under which two names are one column (MySQL ignores case and accents); the name itself by default. */
  fold?: (name: string) => string;
  /** A change that makes a name kept as it is acceptable (MySQL: trailing spaces dropped), and why. */
  tidy?: { apply: (name: string) => string; why: string };
  /** Why a name kept as it is cannot be a column here, or undefined. */
  problem?: (name: string) => string | undefined;
}

/**
 * PostgreSQL: names of up to 63 bytes (it would cut longer ones itself, at a character boundary), any character
 * but NUL, compared exactly; the system columns' names are taken.
 * https://www.postgresql.org/docs/current/ddl-system-columns.html
 */
export const POSTGRES_IDENTIFIERS: IdentifierRules = {
  label: 'PostgreSQL',
  maxLength: POSTGRES_MAX_IDENTIFIER_BYTES,
  unit: 'bytes',
  reserved: ['tableoid', 'xmin', 'cmin', 'xmax', 'cmax', 'ctid'],
};

/**
 * Turns a header into a safe, readable column name: lower case, spaces and dashes to `_`, other unsafe
 * characters dropped, at most `maxLength` characters (ASCII: as many bytes). Never empty.
 */
export function normalizeColumnName(header: string, maxLength = POSTGRES_MAX_IDENTIFIER_BYTES): string {
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
  return name.slice(0, maxLength);
}

/** `name` cut to at most `max` bytes or characters, never inside a character. */
export function clipIdentifier(name: string, max: number, unit: 'bytes' | 'characters'): string {
  let used = 0;
  let end = 0;
  for (const ch of name) {
    const cost = unit === 'characters' ? 1 : Buffer.byteLength(ch, 'utf8');
    if (used + cost > max) break;
    used += cost;
    end += ch.length;
  }
  return name.slice(0, end);
}

/** What {@link planColumnNames} decided: one name per header, and a note for each name it changed. */
export interface ColumnNamePlan {
  names: string[];
  /** One line per renamed column (cut to the limit, reserved, repeated), for the user. */
  renamed: string[];
}

/**
 * The column names a load gives a file's headers, by one documented rule:
 * 1. `normalize` makes each header a safe name (see {@link normalizeColumnName}); `keep` keeps it, and refuses
 *    (`TARGET_MISMATCH`, naming the columns) an empty name, one holding NUL, or one the database cannot have.
 * 2. A name the database keeps for itself (PostgreSQL's `xmin`, `ctid`…) gets `_` appended: `xmin_`.
 * 3. A name longer than the database's limit is cut to it, at a character boundary.
 * 4. A name equal to an earlier one (as the database compares names) gets `_2`, `_3`… within the limit.
 * The mapping a dataset records is the one the loader used, because both come from here.
 */
export function planColumnNames(
  headers: readonly string[],
  mode: 'normalize' | 'keep' = 'normalize',
  rules: IdentifierRules = POSTGRES_IDENTIFIERS,
): ColumnNamePlan {
  const { maxLength, unit } = rules;
  const fold = rules.fold ?? ((n: string) => n);
  const limit = `${rules.label}'s limit of ${maxLength} ${unit}`;
  const problems: string[] = [];
  const renamed: string[] = [];
  const taken = new Set<string>();
  const names = headers.map((header, i) => {
    const label = `column ${i + 1} (${JSON.stringify(header)})`;
    let name: string;
    if (mode === 'normalize') name = normalizeColumnName(header, maxLength);
    else {
      name = rules.tidy ? rules.tidy.apply(header) : header;
      const problem =
        name.length === 0
          ? 'an empty name'
          : name.includes('\u0000')
            ? 'a NUL character in its name'
            : rules.problem?.(name);
      if (problem) {
        problems.push(`${label}: ${problem}`);
        return '';
      }
    }
    const why: string[] = [];
    if (mode === 'keep' && name !== header) why.push(rules.tidy!.why);
    if (rules.reserved?.includes(name)) {
      name = `${name}_`;
      why.push(`${rules.label} reserves the name for a system column`);
    }
    if (clipIdentifier(name, maxLength, unit) !== name) {
      name = clipIdentifier(name, maxLength, unit);
      why.push(`longer than ${limit}`);
    }
    const base = name;
    for (let n = 2; taken.has(fold(name)); n++) {
      name = `${clipIdentifier(base, maxLength - String(n).length - 1, unit)}_${n}`;
      if (n === 2) why.push('an earlier column has the same name');
    }
    taken.add(fold(name));
    if (why.length > 0) renamed.push(`${label} loads as ${JSON.stringify(name)}: ${why.join('; ')}`);
    return name;
  });
  if (problems.length > 0) {
    throw new SluiceError(
      'TARGET_MISMATCH',
      `the header has names ${rules.label} cannot take as they are: ${problems.join('; ')}`,
      { hint: 'Fix the header, or load with columnNames: normalize.' },
    );
  }
  return { names, renamed };
}

/** The names of {@link planColumnNames}, without its notes. */
export function targetColumnNames(
  headers: readonly string[],
  mode: 'normalize' | 'keep' = 'normalize',
  rules: IdentifierRules = POSTGRES_IDENTIFIERS,
): string[] {
  return planColumnNames(headers, mode, rules).names;
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

/**
 * Characters a database column cannot store (PostgreSQL text: NUL; a utf8mb3 column: characters beyond
 * U+FFFF). A lone surrogate (half of a UTF-16 pair, which JSON can spell as `\ud800`) has no encoding in any
 * of them and is always refused.
 */
export interface CharacterRule {
  /** What cannot store them, for messages: `PostgreSQL text`, `a latin1 column`. */
  target: string;
  /** A quick test that matches every string holding such a character (and may match others). */
  suspect: RegExp;
  refuses(codePoint: number): boolean;
}

const isSurrogate = (cp: number) => cp >= 0xd800 && cp <= 0xdfff;

/** The index of the first character of `text` that `rule` refuses, or -1. */
export function firstRefused(text: string, rule: CharacterRule): number {
  if (!rule.suspect.test(text)) return -1;
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    if (isSurrogate(cp) || rule.refuses(cp)) return i;
    i += cp > 0xffff ? 2 : 1;
  }
  return -1;
}

/** `text` without the characters `rule` refuses, and how many were taken out. */
export function stripRefused(text: string, rule: CharacterRule): { text: string; removed: number } {
  let out = '';
  let removed = 0;
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (isSurrogate(cp) || rule.refuses(cp)) removed++;
    else out += text.slice(i, i + width);
    i += width;
  }
  return { text: out, removed };
}

/** `U+0000 (NUL)`, `U+1F600 "😀"`, `a lone surrogate U+D800`: the character at `at`, for a person. */
export function describeCharacter(text: string, at: number): string {
  const cp = text.codePointAt(at)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (isSurrogate(cp)) return `a lone surrogate ${hex}`;
  if (cp === 0) return `${hex} (NUL)`;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return `${hex} (a control character)`;
  return `${hex} ${JSON.stringify(String.fromCodePoint(cp))}`;
}

/** PostgreSQL text (and every type read from text) cannot hold NUL. */
export const POSTGRES_TEXT: CharacterRule = {
  target: 'PostgreSQL text',
  suspect: /[\0\uD800-\uDFFF]/,
  refuses: (cp) => cp === 0,
};
