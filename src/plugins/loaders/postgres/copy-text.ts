import type { Row, Value } from '../../../core/records.js';
import { copyTextValue } from '../../../core/sql.js';

function cell(value: Value): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'string') return copyTextValue(value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) return value.toISOString();
  return copyTextValue(JSON.stringify(value));
}

/** Rows as COPY text lines, picking `indexes` of each row in order. */
export function toCopyText(rows: readonly Row[], indexes: readonly number[]): string {
  let out = '';
  const last = indexes.length - 1;
  for (const row of rows) {
    for (let i = 0; i <= last; i++) {
      out += cell(row[indexes[i]!] ?? null);
      out += i === last ? '\n' : '\t';
    }
  }
  return out;
}
