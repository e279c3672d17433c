import { z } from 'zod';
import { defineCheck } from '../../core/plugin.js';
import { regexProblem } from '../../core/regex.js';

const full = z
  .strictObject({
    pattern: z
      .string()
      .describe('A JavaScript regular expression the value must match (unanchored: use ^…$).'),
    flags: z
      .string()
      .regex(/^[imsu]*$/, 'flags among i, m, s and u (g and y would make matches depend on the previous row)')
      .optional()
      .describe('Regular expression flags, such as "i" to ignore case.'),
  })
  .superRefine((o, ctx) => {
    const problem = regexProblem(o.pattern, o.flags);
    if (problem) ctx.addIssue({ code: 'custom', path: ['pattern'], message: problem });
  });

/** The value matches a regular expression. */
export const regexCheck = defineCheck({
  name: 'regex',
  summary: 'The value matches a regular expression.',
  options: z
    .union([z.string(), full])
    .transform((v) => (typeof v === 'string' ? { pattern: v } : v))
    .pipe(full)
    .describe("The pattern as a string (regex: '^[A-Z]{2}$'), or { pattern, flags }."),
  compile({ pattern, flags }) {
    const re = new RegExp(pattern, flags);
    const message = `does not match /${pattern}/${flags ?? ''}`;
    return (value) => (re.test(value) ? { ok: true, value } : { ok: false, message });
  },
});
