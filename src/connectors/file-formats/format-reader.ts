import type { Column, Row, Value } from '../../core/records.js';
import type { FileFormat } from './format-writer.js';

/**
 * The rows of a whole file written by a {@link FormatWriter}, in `columns` order (a column the file lacks
 * is null). Holds the file in memory: for partition-sized files (a delta merge), not for whole datasets.
 */
export async function readFormatRows(
  format: FileFormat,
  bytes: Buffer,
  columns: readonly Column[],
): Promise<Row[]> {
  if (format === 'parquet') {
    const { parquetReadObjects } = await import('hyparquet');
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
    const objects = await parquetReadObjects({ file });
    return objects.map((o) => columns.map((c) => (o[c.name] ?? null) as Value));
  }
  const text = bytes.toString('utf8');
  if (format === 'jsonl')
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const o = JSON.parse(line) as Record<string, Value>;
        return columns.map((c) => {
          const v = o[c.name] ?? null;
          return v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : v;
        });
      });
  const [header, ...records] = parseCsv(text);
  const at = columns.map((c) => header?.indexOf(c.name) ?? -1);
  return records.map((r) => at.map((i) => (i < 0 || r[i] === '' ? null : (r[i] ?? null))));
}

/** RFC 4180 records of CSV text with `,` separators (what the CSV writer writes). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}
