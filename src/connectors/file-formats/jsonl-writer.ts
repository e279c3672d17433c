import type { Writable } from 'node:stream';
import type { Column, Row } from '../../core/records.js';
import { createLineWriter, type FormatWriter } from './format-writer.js';
import { typedValue } from './typed-values.js';

/**
 * JSON lines: one object per row, keys in column order. Integers beyond 2^53 stay exact as strings; dates
 * are ISO 8601 text; a `json` column is embedded as JSON, not as a string.
 */
export function createJsonlWriter(stream: Writable): FormatWriter {
  return createLineWriter('jsonl', stream, {
    line(columns, row) {
      const object: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++)
        object[columns[i]!.name] = jsonValue(columns[i]!, row[i] ?? null);
      return `${JSON.stringify(object)}\n`;
    },
  });
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
