import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.js';

// Apart from duration.ts, which the store and the CLI use without loading zod.

/**
 * A duration as users write it everywhere: numbers with their units (`250ms`, `30s`, `15m`, `6h`, `7d`,
 * `1h30m`), as text. A bare number is refused rather than guessed at: an old `…Ms` option held
 * milliseconds, where a duration's number used to be seconds.
 */
function durationOf(examples: string, least: 0 | 1) {
  const expected = `a duration such as ${examples}`;
  return z
    .string({
      error: (issue) =>
        typeof issue.input === 'number' ? `a duration with its unit, such as ${examples}` : undefined,
    })
    .regex(new RegExp(DURATION_PATTERN), expected)
    .transform((text, ctx) => {
      const ms = parseDuration(text)!;
      if (ms < least) {
        ctx.addIssue({ code: 'custom', message: `a duration longer than 0, such as ${examples}` });
        return z.NEVER;
      }
      return ms;
    });
}

/** A zod field for a duration written with its unit (`90s`, `30m`, `6h`, `1d`), giving milliseconds. */
export const durationSchema = durationOf('"30s", "15m", "6h" or "7d"', 1);

/** {@link durationSchema} that also takes `0s`, for a wait that can be turned off. */
export const durationOrZeroSchema = durationOf('"5s" or "2m" ("0s" for none)', 0);
