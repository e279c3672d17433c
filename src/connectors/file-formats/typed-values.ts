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

/**
 * The instant of a time text: `2026-01-31`, `2026-01-31 10:00[:00]`, `…T10:00:00Z`, `…+01:00`. A naive time
 * is read as UTC (normalize gives zones first). Undefined when the text is not one.
 */
export function parseInstant(text: string): Date | undefined {
  // The common shapes (what checks and normalize write) without a regular expression or Date's parser.
  const n = text.length;
  if ((n === 10 || n === 16 || n === 19) && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45) {
    const num = (from: number, to: number) => {
      let v = 0;
      for (let i = from; i < to; i++) {
        const d = text.charCodeAt(i) - 48;
        if (d < 0 || d > 9) return NaN;
        v = v * 10 + d;
      }
      return v;
    };
    const sep = text.charCodeAt(10);
    if (n === 10 || ((sep === 32 || sep === 84) && text.charCodeAt(13) === 58)) {
      const ms = Date.UTC(
        num(0, 4),
        num(5, 7) - 1,
        num(8, 10),
        n > 10 ? num(11, 13) : 0,
        n > 10 ? num(14, 16) : 0,
        n === 19 ? num(17, 19) : 0,
      );
      if (!Number.isNaN(ms)) return new Date(ms);
    }
  }
  if (text === '') return undefined;
  let iso = text.includes('T') ? text : text.replace(' ', 'T');
  if (/^\d{4}-\d\d-\d\d$/.test(iso)) iso += 'T00:00:00';
  const zoned = /(Z|[+-]\d\d(:?\d\d)?)$/.test(iso) ? iso : `${iso}Z`;
  const date = new Date(zoned.replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function parseTimestamp(text: string): Date {
  const date = parseInstant(text);
  if (!date) throw new Error(`not a timestamp: ${text}`);
  return date;
}
