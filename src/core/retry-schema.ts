import { z } from 'zod';
import { durationSchema } from './duration-schema.js';
import type { RetryPolicy } from './retry.js';

/** The defaults of a `retry:` group, as a user would write them. */
export interface RetryDefaults {
  attempts: number;
  baseDelay: string;
  maxDelay: string;
}

/**
 * The fields of a `retry:` group, the same wherever something is retried (a pipeline's `run.retry`, the
 * http and scan sources): attempts in all, and an exponential backoff with full jitter between them.
 */
export function retryFields(defaults: RetryDefaults) {
  return {
    attempts: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(defaults.attempts)
      .describe('Attempts in all, the first included (1: no retry).'),
    baseDelay: durationSchema
      .prefault(defaults.baseDelay)
      .describe('The first backoff delay; it doubles each retry, with full jitter.'),
    maxDelay: durationSchema.prefault(defaults.maxDelay).describe('The longest backoff delay.'),
  };
}

/** A parsed `retry:` group as the retry loop takes it. */
export function retryPolicy(o: { attempts: number; baseDelay: number; maxDelay: number }): RetryPolicy {
  return { attempts: o.attempts, baseDelayMs: o.baseDelay, maxDelayMs: o.maxDelay };
}
