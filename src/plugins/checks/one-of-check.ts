import { z } from 'zod';
import { defineCheck } from '../../core/plugin.js';

const full = z.strictObject({
  values: z.array(z.string()).min(1).describe('The values allowed.'),
  ignoreCase: z.boolean().default(false).describe('Compare without case; the value is rewritten as listed.'),
});

/** The value is one of a list. */
export const oneOfCheck = defineCheck({
  name: 'oneOf',
  summary: 'The value is one of a list (optionally ignoring case).',
  options: z
    .union([z.array(z.string()), full])
    .transform((v) => (Array.isArray(v) ? { values: v } : v))
    .pipe(full)
    .describe('The list (oneOf: [A, B]), or { values, ignoreCase }.'),
  compile({ values, ignoreCase }) {
    const shown = values.slice(0, 10).map((v) => JSON.stringify(v));
    const message = `must be one of ${shown.join(', ')}${values.length > 10 ? `, … (${values.length} values)` : ''}`;
    if (!ignoreCase) {
      const allowed = new Set(values);
      return (value) => (allowed.has(value) ? { ok: true, value } : { ok: false, message });
    }
    // Lower-cased spelling to the spelling listed, so that the loaded value is canonical.
    const allowed = new Map<string, string>();
    for (const v of values) if (!allowed.has(v.toLowerCase())) allowed.set(v.toLowerCase(), v);
    return (value) => {
      const listed = allowed.get(value.toLowerCase());
      return listed !== undefined ? { ok: true, value: listed } : { ok: false, message };
    };
  },
});
