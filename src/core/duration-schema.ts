import { z } from 'zod';
import { parseDuration } from './duration.js';

// Apart from duration.ts, which the store and the CLI use without loading zod.
/** A zod field for a duration written as `30m`, `6h`, `1d` (or a number of seconds), giving milliseconds. */
export const durationSchema = z.union([z.number().positive(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? Math.round(value * 1000) : parseDuration(value);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: 'a duration such as "90s", "30m", "6h" or "1d"' });
    return z.NEVER;
  }
  return ms;
});
