import { z } from 'zod';
import { defineCheck } from '../../core/plugin.js';
import type { ColumnType } from '../../core/records.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
// PostgreSQL bigint: https://www.postgresql.org/docs/current/datatype-numeric.html#DATATYPE-INT
const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;

const full = z
  .strictObject({
    min: z.number().int().optional().describe('Smallest value allowed.'),
    max: z.number().int().optional().describe('Largest value allowed.'),
  })
  .refine((o) => o.min === undefined || o.max === undefined || o.min <= o.max, {
    message: 'min is greater than max',
  });

/** The requirement in words, for messages. */
function requirement(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `must be an integer from ${min} to ${max}`;
  if (min !== undefined) return `must be an integer ≥ ${min}`;
  if (max !== undefined) return `must be an integer ≤ ${max}`;
  return 'must be an integer';
}

/** An integer (optional sign, digits only) within optional bounds, loaded as integer or bigint. */
export const integerCheck = defineCheck({
  name: 'integer',
  summary: 'An integer (sign and digits only), optionally within min and max.',
  options: z
    .union([z.literal(true), full])
    .transform((v) => (v === true ? {} : v))
    .pipe(full)
    .describe('true, or { min, max }.'),
  columnType: ({ min, max }): ColumnType =>
    min !== undefined && max !== undefined && min >= INT32_MIN && max <= INT32_MAX ? 'integer' : 'bigint',
  compile({ min, max }) {
    const message = requirement(min, max);
    // A side without a bound of its own still has the limit of the bigint column the value goes to.
    const int64 = `must be an integer from ${INT64_MIN} to ${INT64_MAX}`;
    const low = min ?? Number.NEGATIVE_INFINITY;
    const high = max ?? Number.POSITIVE_INFINITY;
    const lowBig = min !== undefined ? BigInt(min) : INT64_MIN;
    const highBig = max !== undefined ? BigInt(max) : INT64_MAX;
    const belowMessage = min !== undefined ? message : int64;
    const aboveMessage = max !== undefined ? message : int64;
    return (value) => {
      const len = value.length;
      let start = 0;
      let negative = false;
      const first = value.charCodeAt(0);
      if (first === 45 || first === 43) {
        negative = first === 45;
        start = 1;
      }
      if (start >= len) return { ok: false, message };
      for (let p = start; p < len; p++) {
        const c = value.charCodeAt(p);
        if (c < 48 || c > 57) return { ok: false, message };
      }
      // Canonical text: no '+', no leading zeros, no '-0'.
      let digitsFrom = start;
      while (digitsFrom < len - 1 && value.charCodeAt(digitsFrom) === 48) digitsFrom++;
      let text: string;
      if (digitsFrom === start && first !== 43 && !(negative && len === 2 && value.charCodeAt(1) === 48)) {
        text = value;
      } else {
        const digits = value.slice(digitsFrom);
        text = negative && digits !== '0' ? `-${digits}` : digits;
      }
      // Up to 15 digits a double is exact; longer values are compared as bigints.
      if (len - digitsFrom <= 15) {
        const n = Number(text);
        if (n < low || n > high) return { ok: false, message };
      } else {
        const n = BigInt(text);
        if (n < lowBig) return { ok: false, message: belowMessage };
        if (n > highBig) return { ok: false, message: aboveMessage };
      }
      return { ok: true, value: text };
    };
  },
});
