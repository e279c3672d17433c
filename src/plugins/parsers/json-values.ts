/** A JSON number kept as written, so that 64-bit ids and long decimals reach the database unrounded. */
export class RawNumber {
  constructor(readonly text: string) {}
}

/** JSON text of a parsed value, numbers as written. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawNumber) return value.text;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  const members = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`,
  );
  return `{${members.join(',')}}`;
}

/** A scalar as cell text (null stays null); a container as its JSON text. */
function cell(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof RawNumber) return value.text;
  return toJsonText(value);
}

/**
 * The (column, cell) pairs of a record, appended to `out`. `flatten` names nested object members
 * `parent.child`; an empty object stays one cell (`{}`) so the key is not lost; arrays are always JSON text.
 */
export function recordCells(
  record: Record<string, unknown>,
  nested: 'json' | 'flatten',
  out: [string, string | null][] = [],
  prefix = '',
): [string, string | null][] {
  for (const key in record) {
    const value = record[key];
    const name = prefix + key;
    if (
      nested === 'flatten' &&
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      !(value instanceof RawNumber) &&
      Object.keys(value).length > 0
    ) {
      recordCells(value as Record<string, unknown>, nested, out, `${name}.`);
    } else {
      out.push([name, cell(value)]);
    }
  }
  return out;
}
