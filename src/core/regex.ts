import { z } from 'zod';

/** What is wrong with a regular expression as written, or undefined when it compiles. */
export function regexProblem(pattern: string, flags?: string): string | undefined {
  try {
    new RegExp(pattern, flags);
    return undefined;
  } catch (error) {
    return `not a valid regular expression: ${(error as Error).message}`;
  }
}

/** A string option holding a regular expression, refused at validation when it does not compile. */
export function regexOption(message = 'a regular expression', flags?: string) {
  return z
    .string({ error: message })
    .min(1, message)
    .superRefine((pattern, ctx) => {
      const problem = regexProblem(pattern, flags);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}
