import { z } from 'zod';

/** The identifying User-Agent every web source sends unless told otherwise. */
export const DEFAULT_USER_AGENT = 'Sluice/0.1 (ETL; +https://github.com/sluice-etl/sluice)';

/** Timeouts, retries and limits, the same for the http and scan sources. */
export const transportOptions = {
  userAgent: z
    .string()
    .min(1)
    .default(DEFAULT_USER_AGENT)
    .describe('The User-Agent header: say who you are.'),
  connectTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('How long to wait for the connection, in milliseconds.'),
  readTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe('Longest silence while waiting for the response or between two parts of its body, in ms.'),
  retries: z
    .number()
    .int()
    .min(0)
    .max(20)
    .default(3)
    .describe('Retries after a network error, a timeout, 408, 429 or 5xx (so 1 + retries attempts).'),
  retryBaseDelayMs: z
    .number()
    .int()
    .min(0)
    .default(500)
    .describe('First backoff delay; it doubles each retry, with full jitter.'),
  retryMaxDelayMs: z.number().int().min(0).default(30_000).describe('Longest backoff delay.'),
  maxRetryAfterMs: z
    .number()
    .int()
    .min(0)
    .default(300_000)
    .describe('Longest Retry-After honoured; a server asking to wait longer fails the request.'),
  concurrency: z.number().int().min(1).max(32).default(1).describe('Requests in flight at once.'),
};

/** The transport options as the HTTP client takes them (the client's pacing and secrets are the caller's). */
export function transportSettings(o: {
  [K in keyof typeof transportOptions]: z.output<(typeof transportOptions)[K]>;
}) {
  return {
    userAgent: o.userAgent,
    connectTimeoutMs: o.connectTimeoutMs,
    readTimeoutMs: o.readTimeoutMs,
    retry: { attempts: o.retries + 1, baseDelayMs: o.retryBaseDelayMs, maxDelayMs: o.retryMaxDelayMs },
    maxRetryAfterMs: o.maxRetryAfterMs,
    concurrency: o.concurrency,
  };
}
