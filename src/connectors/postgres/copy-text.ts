import type { Row, Value } from '../../core/records.js';
import { copyTextValue, firstRefused, POSTGRES_TEXT, type CharacterRule } from '../../core/sql.js';

/** Text of a cell that is not a string, in COPY text format (escaped where needed). */
function otherCell(value: Exclude<Value, string | null>): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) return value.toISOString();
  return copyTextValue(JSON.stringify(value));
}

/** A growable buffer reused from batch to batch, so that serialising makes almost no garbage. */
export interface CopyScratch {
  buf: Buffer;
}

export function createCopyScratch(): CopyScratch {
  return { buf: Buffer.allocUnsafe(1 << 20) };
}

/**
 * Decides about a string cell holding a character PostgreSQL text cannot store (NUL, a lone surrogate): the
 * text to write instead, or null to leave the whole row out. `index` is the cell's index in the row.
 */
export type RefusedCell = (
  row: number,
  index: number,
  text: string,
  at: number,
  rule: CharacterRule,
) => string | null;

/**
 * Rows as COPY text bytes, picking `indexes` of each row in order. ASCII cells with nothing to escape are
 * copied byte by byte into the buffer; others go through `copyTextValue` and UTF-8 encoding. Writing bytes
 * directly, rather than building a string that the socket then encodes, measured ~20 % faster end to end.
 * A string PostgreSQL cannot store goes to `refused` (without it, the COPY fails on it); a row it leaves
 * out is not written.
 */
export function toCopyBytes(
  rows: readonly Row[],
  indexes: readonly number[],
  scratch: CopyScratch,
  refused?: RefusedCell,
): Buffer {
  // `buf` and `pos` stay plain locals (no closure captures them): V8 keeps them in registers.
  let buf = scratch.buf;
  let pos = 0;
  const last = indexes.length - 1;
  nextRow: for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const rowStart = pos;
    for (let i = 0; i <= last; i++) {
      const value = row[indexes[i]!] ?? null;
      if (value === null) {
        if (pos + 3 > buf.length) buf = grow(buf, pos, 3);
        buf[pos++] = 92; // \N
        buf[pos++] = 78;
      } else {
        let text = typeof value === 'string' ? value : otherCell(value);
        const n = text.length;
        if (pos + n + 1 > buf.length) buf = grow(buf, pos, n + 1);
        let k = 0;
        for (; k < n; k++) {
          const c = text.charCodeAt(k);
          if (c >= 128 || c === 92 || c === 9 || c === 10 || c === 13 || c === 0) break;
          buf[pos + k] = c;
        }
        if (k === n) pos += n;
        else {
          // Not plain ASCII: check what PostgreSQL cannot store (otherCell's JSON escapes it), then escape
          // (strings only: otherCell already escaped) and encode the whole cell.
          if (refused && typeof value === 'string') {
            const at = firstRefused(text, POSTGRES_TEXT);
            if (at >= 0) {
              const replacement = refused(r, indexes[i]!, text, at, POSTGRES_TEXT);
              if (replacement === null) {
                pos = rowStart;
                continue nextRow;
              }
              text = replacement;
            }
          }
          const escaped = typeof value === 'string' ? copyTextValue(text) : text;
          if (pos + escaped.length * 3 + 1 > buf.length) buf = grow(buf, pos, escaped.length * 3 + 1);
          pos += buf.write(escaped, pos, 'utf8');
        }
      }
      buf[pos++] = i === last ? 10 : 9;
    }
  }
  scratch.buf = buf;
  // A copy, so that the scratch buffer can be reused while this one is still being sent.
  return Buffer.from(buf.subarray(0, pos));
}

/** A buffer at least `extra` bytes longer than `used`, holding the first `used` bytes of `buf`. */
function grow(buf: Buffer, used: number, extra: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, used + extra));
  buf.copy(bigger, 0, 0, used);
  return bigger;
}
