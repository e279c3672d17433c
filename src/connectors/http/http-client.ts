import type http from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { errorMessage, SluiceError } from '../../core/errors.js';
import { formatDuration } from '../../core/duration.js';
import type { Logger } from '../../core/plugin.js';
import { backoffDelay, type RetryPolicy } from '../../core/retry.js';
import { createMasker, type SecretPair } from '../../core/secrets.js';
import { sleep } from '../../core/sleep.js';

/** One request as the sources describe it. Headers and URL may carry secrets: see `redact`. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'HEAD';
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The final URL, after redirects. */
  url: URL;
  /** The body, decompressed; consume it or call `discard`. */
  body: Readable;
  discard(): void;
}

export interface HttpClientOptions {
  logger: Logger;
  signal: AbortSignal;
  userAgent: string;
  connectTimeoutMs: number;
  /** Longest silence while waiting for the headers or between two chunks of the body. */
  readTimeoutMs: number;
  retry: RetryPolicy;
  /** Longest `Retry-After` honoured; a server asking for more fails the request. */
  maxRetryAfterMs: number;
  /** Least time between the starts of two requests (rate limit, politeness delay). */
  minIntervalMs: number;
  /** Requests in flight at once. */
  concurrency: number;
  /**
   * Secrets never to show in a log line or message (tokens, passwords, key values), in any encoding: see
   * `createMasker`.
   */
  secrets: (string | SecretPair)[];
  maxRedirects?: number;
}

/** A failed attempt; `retryAfterMs` when the server said how long to wait. */
export class HttpAttemptError extends SluiceError {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    retryable: boolean,
    cause?: unknown,
  ) {
    super(status === 401 || status === 403 ? 'SOURCE_AUTH' : 'SOURCE_UNREACHABLE', message, {
      retryable,
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export interface HttpClient {
  /**
   * Sends a request with timeouts, the rate limit and the concurrency limit; network errors, 408, 429 and 5xx
   * are retried with backoff (or after `Retry-After`). Other statuses come back as responses. `consume` runs
   * inside the retry loop and the concurrency slot: a body cut halfway is retried like a network error.
   */
  request<T>(request: HttpRequest, consume: (response: HttpResponse) => Promise<T>): Promise<T>;
  /** The text (a URL, a message) with every form of every secret masked, for logs and messages. */
  redact(text: string): string;
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const redact = createMasker(options.secrets);
  let nextStart = 0;
  let active = 0;
  const waiting: (() => void)[] = [];

  async function slot(): Promise<() => void> {
    if (active >= options.concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    return () => {
      active--;
      waiting.shift()?.();
    };
  }

  /** Waits for the request's turn under the rate limit; turns are handed out in call order. */
  async function pace(): Promise<void> {
    const now = Date.now();
    const start = Math.max(now, nextStart);
    nextStart = start + options.minIntervalMs;
    if (start > now) await sleep(start - now, options.signal);
  }

  async function request<T>(req: HttpRequest, consume: (r: HttpResponse) => Promise<T>): Promise<T> {
    const release = await slot();
    try {
      for (let attempt = 1; ; attempt++) {
        if (options.signal.aborted) throw new SluiceError('ABORTED', 'the run was stopped');
        await pace();
        const started = Date.now();
        try {
          const response = await send(req, options, redact);
          options.logger.debug(`${req.method} ${redact(req.url.href)} → ${response.status}`, {
            ms: Date.now() - started,
          });
          if (RETRY_STATUS.has(response.status)) {
            response.discard();
            const retryAfter = parseRetryAfter(response.headers['retry-after']);
            throw new HttpAttemptError(
              `${req.method} ${redact(req.url.href)} answered ${response.status}`,
              response.status,
              retryAfter,
              true,
            );
          }
          return await consume(response);
        } catch (error) {
          const failure = asAttemptError(error, req, redact);
          if (!failure.retryable || attempt >= options.retry.attempts || options.signal.aborted)
            throw failure;
          let delay = backoffDelay(attempt, options.retry);
          if (failure.retryAfterMs !== undefined) {
            if (failure.retryAfterMs > options.maxRetryAfterMs) {
              throw new HttpAttemptError(
                `${failure.message}; it asks to wait ${formatDuration(failure.retryAfterMs)}, more than the ${formatDuration(options.maxRetryAfterMs)} allowed (retry.maxRetryAfter)`,
                failure.status,
                failure.retryAfterMs,
                false,
              );
            }
            delay = failure.retryAfterMs;
          }
          options.logger.warn(
            `${failure.message} (attempt ${attempt} of ${options.retry.attempts}); retrying in ${delay} ms`,
          );
          await sleep(delay, options.signal);
        }
      }
    } finally {
      release();
    }
  }

  return { request, redact };
}

function asAttemptError(error: unknown, req: HttpRequest, redact: (s: string) => string): HttpAttemptError {
  if (error instanceof HttpAttemptError) return error;
  if (error instanceof SluiceError) {
    // A consumer's own verdict (such as a full disk) keeps its code; only network trouble is retried.
    throw error;
  }
  const code = (error as { code?: string }).code;
  return new HttpAttemptError(
    `${req.method} ${redact(req.url.href)} failed: ${redact(errorMessage(error))}${code && !errorMessage(error).includes(code) ? ` (${code})` : ''}`,
    undefined,
    undefined,
    true,
    error,
  );
}

/** `Retry-After` as milliseconds: seconds, or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

class TimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
}

/** One exchange over node:http(s), following redirects; connect and read timeouts on the socket. */
async function send(
  req: HttpRequest,
  options: HttpClientOptions,
  redact: (s: string) => string,
): Promise<HttpResponse> {
  let url = req.url;
  let method = req.method;
  let body = req.body;
  const headers: Record<string, string> = {
    'user-agent': options.userAgent,
    'accept-encoding': 'gzip, deflate, br',
    ...lowerKeys(req.headers),
  };
  for (let redirects = 0; ; redirects++) {
    const response = await exchange(url, method, headers, body, options);
    const location = response.headers.location;
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && status !== 304 && location) {
      response.resume();
      if (redirects >= (options.maxRedirects ?? 5)) {
        throw new HttpAttemptError(`${redact(req.url.href)}: too many redirects`, status, undefined, false);
      }
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new HttpAttemptError(
          `${redact(url.href)} redirects to a ${next.protocol} URL`,
          status,
          undefined,
          false,
        );
      }
      // Credentials are for the origin they were given for, not wherever a redirect points.
      if (next.origin !== url.origin) {
        delete headers.authorization;
        delete headers.cookie;
      }
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        delete headers['content-type'];
      }
      url = next;
      continue;
    }
    return wrap(response, url);
  }
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

async function exchange(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  options: HttpClientOptions,
): Promise<http.IncomingMessage> {
  // node:http(s) (and tls with them) load on the first request: every command that only reads pipelines
  // would otherwise compile them at its start.
  const lib =
    url.protocol === 'https:' ? (await import('node:https')).default : (await import('node:http')).default;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      method,
      headers:
        body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      signal: options.signal,
    });
    let connectTimer: NodeJS.Timeout | undefined;
    req.on('socket', (socket) => {
      if ((socket as { connecting?: boolean }).connecting) {
        connectTimer = setTimeout(
          () =>
            req.destroy(
              new TimeoutError(
                `no connection within ${formatDuration(options.connectTimeoutMs)} (connectTimeout)`,
              ),
            ),
          options.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      }
    });
    // An idle socket, while waiting for the headers or between two chunks of the body. Once the body is
    // flowing the response must fail with the timeout itself: destroying only the request would leave the
    // body to end with a bare ECONNRESET ("aborted").
    let response: http.IncomingMessage | undefined;
    req.setTimeout(options.readTimeoutMs, () => {
      const timeout = new TimeoutError(`no data for ${formatDuration(options.readTimeoutMs)} (readTimeout)`);
      response?.destroy(timeout);
      req.destroy(timeout);
    });
    req.on('error', (error) => {
      clearTimeout(connectTimer);
      reject(error);
    });
    req.on('response', (incoming) => {
      clearTimeout(connectTimer);
      response = incoming;
      resolve(incoming);
    });
    req.end(body);
  });
}

function wrap(response: http.IncomingMessage, url: URL): HttpResponse {
  const encoding = String(response.headers['content-encoding'] ?? '').toLowerCase();
  let body: Readable = response;
  if (encoding === 'gzip' || encoding === 'x-gzip') body = response.pipe(zlib.createGunzip());
  else if (encoding === 'deflate') body = response.pipe(zlib.createInflate());
  else if (encoding === 'br') body = response.pipe(zlib.createBrotliDecompress());
  if (body !== response) {
    // pipe() does not pass errors on: a cut connection must fail the decompressed stream too.
    response.on('error', (error) => body.destroy(error));
    response.on('aborted', () => body.destroy(new Error('the connection closed before the body ended')));
  }
  return {
    status: response.statusCode ?? 0,
    headers: response.headers,
    url,
    body,
    discard: () => {
      response.resume();
      response.on('error', () => undefined);
    },
  };
}
