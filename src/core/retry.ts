import { sleep } from './sleep.js';
import { isSluiceError } from './errors.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 500, maxDelayMs: 30_000 };

/** Exponential backoff with full jitter: a random delay up to base·2^(attempt-1), capped. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}

/**
 * Runs `work` until it succeeds, it throws an error that is not retryable, or the attempts run out.
 * Only SluiceErrors flagged retryable are tried again.
 */
export async function withRetry<T>(
  work: (attempt: number) => Promise<T>,
  options: {
    policy?: RetryPolicy;
    signal?: AbortSignal;
    onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  } = {},
): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !isSluiceError(error) || !error.retryable || options.signal?.aborted)
        throw error;
      const delay = backoffDelay(attempt, policy);
      options.onRetry?.(error, attempt, delay);
      // Stopped while waiting: the last failure is what the caller reports.
      await sleep(delay, options.signal).catch(() => undefined);
      if (options.signal?.aborted) throw error;
    }
  }
}
