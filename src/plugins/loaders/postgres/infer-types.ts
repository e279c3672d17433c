import type { ColumnType, Row, Value } from '../../../core/records.js';

/** The types inference can give a column; `text` when nothing narrower fits every value. */
export type InferredType = 'integer' | 'bigint' | 'numeric' | 'boolean' | 'date' | 'timestamp' | 'text';

// One bit per type a value may still have; a column keeps the bits every one of its values has.
const INTEGER = 1;
const BIGINT = 2;
const NUMERIC = 4;
const BOOLEAN = 8;
const DATE = 16;
const TIMESTAMP = 32; // a date or a timestamp: both cast to timestamp
const ALL = INTEGER | BIGINT | NUMERIC | BOOLEAN | DATE | TIMESTAMP;

// Narrowest first: the first bit a column keeps names its type.
const ORDER: readonly [number, InferredType][] = [
  [INTEGER, 'integer'],
  [BIGINT, 'bigint'],
  [NUMERIC, 'numeric'],
  [BOOLEAN, 'boolean'],
  [DATE, 'date'],
  [TIMESTAMP, 'timestamp'],
];

// Numbers only as PostgreSQL prints them, so that a typed column gives back the text it was given (even once
// widened to text): no sign but a minus, no leading zeros (postcodes, phone numbers), no exponent, no bare point.
const INT_RE = /^-?(?:0|[1-9]\d*)$/;
const NUMERIC_RE = /^-?(?:0|[1-9]\d*)\.(\d+)$/;
const NEGATIVE_ZERO_RE = /^-0(?:\.0+)?$/;
// Only the words: a column of F and M (or yes and no) is not a boolean, and widened to text it would read false.
const BOOLEAN_RE = /^(?:true|false)$/i;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
// At most microseconds: PostgreSQL would round a finer fraction.
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?$/;

// Limits of PostgreSQL's integer, bigint and numeric: https://www.postgresql.org/docs/current/datatype-numeric.html
const INT32_MIN = -2147483648n;
const INT32_MAX = 2147483647n;
const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;
const NUMERIC_MAX_INTEGER_DIGITS = 131072;
const NUMERIC_MAX_FRACTION_DIGITS = 16383;

function validDate(y: string, m: string, d: string): boolean {
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  // setUTCFullYear, not Date.UTC: the latter maps years below 100 to 19xx.
  const last = new Date(0);
  last.setUTCFullYear(year, month, 0);
  return day <= last.getUTCDate();
}

/**
 * A whole number fits integer or bigint by its range. Beyond bigint it stays text: such long digit strings
 * are identifiers (accounts, codes) far more often than amounts, and not every target's decimal holds them.
 */
function integerBits(n: bigint): number {
  if (n >= INT32_MIN && n <= INT32_MAX) return INTEGER | BIGINT | NUMERIC;
  if (n >= INT64_MIN && n <= INT64_MAX) return BIGINT | NUMERIC;
  return 0;
}

/** The types one value fits, as bits. */
function bitsOf(value: Exclude<Value, null>): number {
  if (typeof value === 'string') {
    if (INT_RE.test(value)) return value === '-0' ? 0 : integerBits(BigInt(value));
    let m = NUMERIC_RE.exec(value);
    if (m) {
      const integerDigits = value.length - m[1]!.length - 1 - (value.startsWith('-') ? 1 : 0);
      const fits = integerDigits <= NUMERIC_MAX_INTEGER_DIGITS && m[1]!.length <= NUMERIC_MAX_FRACTION_DIGITS;
      return fits && !NEGATIVE_ZERO_RE.test(value) ? NUMERIC : 0;
    }
    if (BOOLEAN_RE.test(value)) return BOOLEAN;
    m = DATE_RE.exec(value);
    if (m) return validDate(m[1]!, m[2]!, m[3]!) ? DATE | TIMESTAMP : 0;
    m = TIMESTAMP_RE.exec(value);
    if (m) {
      const ok =
        validDate(m[1]!, m[2]!, m[3]!) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6] ?? 0) < 60;
      return ok ? TIMESTAMP : 0;
    }
    return 0;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 0;
    return Number.isInteger(value) ? integerBits(BigInt(value)) : NUMERIC;
  }
  if (typeof value === 'bigint') return integerBits(value);
  if (typeof value === 'boolean') return BOOLEAN;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 0 : TIMESTAMP;
  return 0;
}

/** Infers column types incrementally, batch after batch, from the values it is shown. */
export interface TypeInference {
  /** Takes `indexes` of each row: column `k` of the inference is `row[indexes[k]]`. */
  add(rows: readonly Row[], indexes: readonly number[]): void;
  /** One type per column; undefined for a column that has seen only nulls so far. */
  types(): (InferredType | undefined)[];
}

export function createTypeInference(columnCount: number): TypeInference {
  const masks = new Array<number>(columnCount).fill(ALL);
  const seen = new Array<boolean>(columnCount).fill(false);
  return {
    add(rows, indexes) {
      for (const row of rows) {
        for (let k = 0; k < columnCount; k++) {
          const value = row[indexes[k]!] ?? null;
          if (value === null) continue;
          seen[k] = true;
          // Once a column is text no value can narrow it again: skip the regexes.
          if (masks[k] !== 0) masks[k]! &= bitsOf(value);
        }
      }
    },
    types() {
      return masks.map((mask, k) => (seen[k] ? typeOfMask(mask) : undefined));
    },
  };
}

function typeOfMask(mask: number): InferredType {
  for (const [bit, type] of ORDER) if (mask & bit) return type;
  return 'text';
}

/** The narrowest type that fits every value; nulls are ignored and an all-null column is text. */
export function inferType(values: Iterable<Value>): InferredType {
  const inference = createTypeInference(1);
  inference.add(
    Array.from(values, (v) => [v]),
    [0],
  );
  return inference.types()[0] ?? 'text';
}

const NUMBER_CHAIN: readonly ColumnType[] = ['integer', 'bigint', 'numeric'];
const TIME_CHAIN: readonly ColumnType[] = ['date', 'timestamp'];

/**
 * The type a column of type `current` must take to hold values of type `needed`: the wider of the two on
 * integer → bigint → numeric or date → timestamp; text for anything else that differs. Never narrower.
 */
export function widenType(current: ColumnType, needed: ColumnType): ColumnType {
  if (current === needed || current === 'text') return current;
  for (const chain of [NUMBER_CHAIN, TIME_CHAIN]) {
    const a = chain.indexOf(current);
    const b = chain.indexOf(needed);
    if (a >= 0 && b >= 0) return chain[Math.max(a, b)]!;
  }
  return 'text';
}
