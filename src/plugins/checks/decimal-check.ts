import { z } from 'zod';
import { defineCheck } from '../../core/plugin.js';

const full = z
  .strictObject({
    decimalSeparator: z
      .enum(['.', ','])
      .default('.')
      .describe('The decimal separator of the file: "." (1234.5) or "," (1234,5). No thousands separators.'),
    min: z.number().optional().describe('Smallest value allowed.'),
    max: z.number().optional().describe('Largest value allowed.'),
  })
  .refine((o) => o.min === undefined || o.max === undefined || o.min <= o.max, {
    message: 'min is greater than max',
  });

function requirement(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `must be a decimal number from ${min} to ${max}`;
  if (min !== undefined) return `must be a decimal number ≥ ${min}`;
  if (max !== undefined) return `must be a decimal number ≤ ${max}`;
  return 'must be a decimal number';
}

/** A decimal number (1234.5 or 1234,5) within optional bounds, loaded with "." as numeric. */
export const decimalCheck = defineCheck({
  name: 'decimal',
  summary: 'A decimal number with "." or "," as separator, optionally within min and max; loaded as numeric.',
  options: z
    .union([z.literal(true), full])
    .transform((v) => (v === true ? {} : v))
    .pipe(full)
    .describe('true, or { decimalSeparator, min, max }.'),
  columnType: () => 'numeric',
  compile({ decimalSeparator, min, max }) {
    const message = requirement(min, max);
    const separator = decimalSeparator.charCodeAt(0);
    const low = min ?? Number.NEGATIVE_INFINITY;
    const high = max ?? Number.POSITIVE_INFINITY;
    return (value) => {
      const len = value.length;
      const first = value.charCodeAt(0);
      const signed = first === 45 || first === 43;
      let p = signed ? 1 : 0;
      const intFrom = p;
      while (p < len && value.charCodeAt(p) >= 48 && value.charCodeAt(p) <= 57) p++;
      const intTo = p;
      let fracFrom = p;
      if (p < len && value.charCodeAt(p) === separator) {
        fracFrom = ++p;
        while (p < len && value.charCodeAt(p) >= 48 && value.charCodeAt(p) <= 57) p++;
      }
      const fracTo = p;
      // Digits on at least one side of the separator, and nothing else.
      if (p !== len || (intTo === intFrom && fracTo === fracFrom)) return { ok: false, message };

      // Canonical text: "-", the integer part without leading zeros (at least "0"), "." and the fraction.
      let intStart = intFrom;
      while (intStart < intTo - 1 && value.charCodeAt(intStart) === 48) intStart++;
      const integer = intStart < intTo ? value.slice(intStart, intTo) : '0';
      const fraction = fracTo > fracFrom ? value.slice(fracFrom, fracTo) : '';
      let zero = integer === '0';
      for (let k = fracFrom; zero && k < fracTo; k++) if (value.charCodeAt(k) !== 48) zero = false;
      const sign = first === 45 && !zero ? '-' : '';
      const text = fraction.length > 0 ? `${sign}${integer}.${fraction}` : `${sign}${integer}`;
      if (min !== undefined || max !== undefined) {
        const n = Number(text);
        if (n < low || n > high) return { ok: false, message };
      }
      return { ok: true, value: text };
    };
  },
});
