import type { Column, Value } from '../../core/records.js';

/**
 * A cell as its column's type says, for formats that keep types (Parquet, JSON lines): checks hand values
 * over as canonical text (`'12'`, `'2026-01-31'`), sources may give numbers, dates and objects.
 * Null and empty text are null.
 */
export function typedValue(column: Column, value: Value): string | number | boolean | bigint | Date | null {
  if (value === null || value === undefined || value === '') return null;
  switch (column.type) {
    case 'integer':
    case 'bigint':
      return typeof value === 'bigint'
        ? value
        : BigInt(typeof value === 'number' ? Math.trunc(value) : String(value));
    case 'numeric':
      return typeof value === 'number' ? value : Number(value);
    case 'boolean':
      return typeof value === 'boolean' ? value : /^(true|t|1|yes)$/i.test(String(value));
    case 'date':
      return value instanceof Date ? value : new Date(`${String(value).slice(0, 10)}T00:00:00Z`);
    case 'timestamp':
      return value instanceof Date ? value : parseTimestamp(String(value));
    case 'json':
      return typeof value === 'string' ? value : JSON.stringify(value);
    default:
      return textOf(value);
  }
}

/** Text of any value as Sluice writes it everywhere: dates as ISO 8601, objects as JSON. */
export function textOf(value: Value): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `2026-01-31 10:00:00`, `…T10:00:00Z`, `…+01:00`: a naive time is read as UTC (normalize zones first). */
function parseTimestamp(text: string): Date {
  const iso = text.includes('T') ? text : text.replace(' ', 'T');
  const zoned = /(Z|[+-]\d\d(:?\d\d)?)$/.test(iso) ? iso : `${iso}Z`;
  const date = new Date(zoned.replace(/([+-]\d\d)$/, '$1:00'));
  if (Number.isNaN(date.getTime())) throw new Error(`not a timestamp: ${text}`);
  return date;
}
