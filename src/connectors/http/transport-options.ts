import { z } from 'zod';
import { durationSchema } from '../../core/duration-schema.js';
import { retryFields, retryPolicy } from '../../core/retry-schema.js';

/** The identifying User-Agent every web source sends unless told otherwise. */
export const DEFAULT_USER_AGENT = 'Sluice/0.1 (ETL; +https://github.com/sluice-etl/sluice)';

/** Timeouts, retries and limits, the same for the http and scan sources. */
export const transportOptions = {
  userAgent: z
    .string()
    .min(1)
    .default(DEFAULT_USER_AGENT)
    .describe('The User-Agent header: say who you are.'),
  connectTimeout: durationSchema.prefault('10s').describe('How long to wait for the connection.'),
  readTimeout: durationSchema
    .prefault('30s')
    .describe('Longest silence while waiting for the response or between two parts of its body.'),
  retry: z
    .strictObject({
      ...retryFields({ attempts: 4, baseDelay: '500ms', maxDelay: '30s' }),
      maxRetryAfter: durationSchema
        .prefault('5m')
        .describe('Longest Retry-After honoured; a server asking to wait longer fails the request.'),
    })
    .prefault({})
    .describe('Retries after a network error, a timeout, 408, 429 or 5xx.'),
  concurrency: z.number().int().min(1).max(32).default(1).describe('Requests in flight at once.'),
};

/** The transport options as the HTTP client takes them (the client's pacing and secrets are the caller's). */
export function transportSettings(o: {
  [K in keyof typeof transportOptions]: z.output<(typeof transportOptions)[K]>;
}) {
  return {
    userAgent: o.userAgent,
    connectTimeoutMs: o.connectTimeout,
    readTimeoutMs: o.readTimeout,
    retry: retryPolicy(o.retry),
    maxRetryAfterMs: o.retry.maxRetryAfter,
    concurrency: o.concurrency,
  };
}
