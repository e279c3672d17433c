import type { Writable } from 'node:stream';
import type { Column, Row } from '../../core/records.js';
import { CountingOutput, sameColumns, type FormatWriter, type WrittenFile } from './format-writer.js';
import { typedValue } from './typed-values.js';

/**
 * JSON lines: one object per row, keys in column order. Integers beyond 2^53 stay exact as strings; dates
 * are ISO 8601 text; a `json` column is embedded as JSON, not as a string.
 */
export function createJsonlWriter(stream: Writable): FormatWriter {
  const out = new CountingOutput(stream);
  let columns: readonly Column[] | undefined;
  let rows = 0;
  return {
    format: 'jsonl',
    async write(batchColumns: readonly Column[], batchRows: readonly Row[]) {
      if (!columns) columns = batchColumns;
      else sameColumns(columns, batchColumns);
      const cols = columns;
      let text = '';
      for (const row of batchRows) {
        const object: Record<string, unknown> = {};
        for (let i = 0; i < cols.length; i++) object[cols[i]!.name] = jsonValue(cols[i]!, row[i] ?? null);
        text += `${JSON.stringify(object)}\n`;
      }
      rows += batchRows.length;
      await out.write(text);
    },
    pendingRows: 0,
    async flush() {},
    async end(): Promise<WrittenFile> {
      return out.end(rows);
    },
  };
}

function jsonValue(column: Column, value: Row[number]): unknown {
  const typed = typedValue(column, value);
  if (typeof typed === 'bigint')
    return Number.isSafeInteger(Number(typed)) ? Number(typed) : typed.toString();
  if (typed instanceof Date)
    return column.type === 'date' ? typed.toISOString().slice(0, 10) : typed.toISOString();
  if (column.type === 'json' && typeof typed === 'string') {
    try {
      return JSON.parse(typed) as unknown;
    } catch {
      return typed;
    }
  }
  return typed;
}
