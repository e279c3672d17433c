import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { namedSecrets, urlSecrets } from '../../core/secrets.js';
import { defineSource, type PluginContext, type SourceFile } from '../../core/plugin.js';
import { authRequest, authSecrets } from './http/auth.js';
import {
  createHttpClient,
  HttpAttemptError,
  type HttpClient,
  type HttpResponse,
} from '../../connectors/http/http-client.js';
import { readSnippet } from '../../connectors/http/read-snippet.js';
import { saveBody } from '../../connectors/http/save-body.js';
import { transportSettings } from '../../connectors/http/transport-options.js';
import { httpSourceOptions, type HttpSourceOptions } from './http/http-options.js';
import { IncompleteJsonError } from './http/inspect-json.js';
import { nextPage, readPageFacts, type PageResult } from './http/pagination.js';
import { safeFileName } from './safe-file-name.js';

/** What is kept per request URL between runs, for conditional requests. */
interface Validators {
  url: string;
  etag?: string;
  lastModified?: string;
}

/**
 * An HTTP API or file: each response page is saved in the run's scratch folder and listed as a file for the
 * pipeline's parser (json, csv, xlsx…). Pagination, retries, a rate limit and conditional requests.
 */
export const httpSource = defineSource({
  name: 'http',
  summary:
    'HTTP(S) GET/POST with auth, pagination (page, offset, cursor, Link, next URL), retries, rate limit and ETag/Last-Modified.',
  schemes: ['http', 'https'],
  options: httpSourceOptions,
  async open(opts, context) {
    const urls = (Array.isArray(opts.url) ? opts.url : [opts.url]).map((u) => new URL(u));
    const client = createHttpClient({
      logger: context.logger,
      signal: context.signal,
      ...transportSettings(opts),
      minIntervalMs: opts.rateLimit ? 1000 / opts.rateLimit : 0,
      secrets: [
        ...authSecrets(opts.auth),
        ...urls.flatMap((u) => urlSecrets(u)),
        ...namedSecrets(opts.headers),
        ...namedSecrets(opts.query),
      ],
    });
    const location =
      client.redact(urls[0]!.href) + (urls.length > 1 ? ` and ${urls.length - 1} more URLs` : '');
    return {
      location,
      async *list() {
        // Each URL is a chain of pages; chains run side by side up to the concurrency limit.
        const chains = urls.map(
          (url, i) => () => readChain(url, urls.length > 1 ? i + 1 : 0, opts, context, client),
        );
        const results: SourceFile[][] = new Array<SourceFile[]>(chains.length);
        let next = 0;
        const worker = async () => {
          while (next < chains.length) {
            const i = next++;
            results[i] = await chains[i]!();
          }
        };
        await Promise.all(Array.from({ length: Math.min(opts.concurrency, chains.length) }, worker));
        for (const files of results) yield* files;
      },
      async fetch(file) {
        const info = await stat(file.id);
        return { path: file.id, size: info.size, temporary: true };
      },
      async settle() {},
      async close() {},
    };
  },
});

/**
 * One URL's chain of pages. Only the first request is conditional: a 304 there means the chain is unchanged
 * and nothing is listed. The first page's validators are the chain's state, handed to the runner with the
 * chain's last page: they commit only once every page before it has an outcome, so a run that fails or is
 * killed partway saves none and its rerun reads the whole chain again (the pages loaded before are skipped as
 * duplicates by their content).
 */
async function readChain(
  first: URL,
  chainNumber: number,
  opts: HttpSourceOptions,
  context: PluginContext,
  client: HttpClient,
): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const visited = new Set<string>();
  const start = withQuery(first, opts.query, opts.pagination);
  const key = stateKey(opts, start);
  const prior = opts.conditional ? await context.state?.get<Validators>(key) : undefined;
  let url: URL | undefined = start;
  let chainState: Validators | undefined;
  let complete = true;
  const base = opts.fileName ?? baseName(first);
  for (let page = 1; url; page++) {
    if (page > opts.maxPages) {
      context.logger.warn(
        `${client.redact(first.href)}: stopped after maxPages (${opts.maxPages}) pages; the pages after ` +
          'them are not read, and the next run reads this URL again from its first page',
      );
      complete = false;
      break;
    }
    visited.add(url.href);
    const conditional = page === 1 ? prior : undefined;
    const request = authRequest(
      {
        method: opts.method,
        url,
        headers: {
          ...opts.headers,
          ...(conditional?.etag ? { 'if-none-match': conditional.etag } : {}),
          ...(conditional?.lastModified ? { 'if-modified-since': conditional.lastModified } : {}),
        },
        ...requestBody(opts),
      },
      opts.auth,
    );
    const stem = `${base}${chainNumber > 0 ? `_${chainNumber}` : ''}_p${String(page).padStart(4, '0')}`;
    const pageUrl: URL = url;
    const result = await client.request(request, async (response): Promise<PageResult | 'unchanged'> => {
      if (response.status === 304) {
        response.discard();
        if (page === 1) return 'unchanged';
        throw new SluiceError('SOURCE_IO', `${client.redact(pageUrl.href)} answered 304 to a plain GET`);
      }
      if (response.status < 200 || response.status >= 300)
        throw await refusal(response, request.method, client);
      const name = `${stem}.${opts.extension ?? extensionOf(response, pageUrl)}`;
      const file = path.join(context.workDir, `${chainNumber}-${page}-${name}`);
      const size = await saveBody(response, file);
      let facts: PageResult['facts'];
      try {
        facts = await readPageFacts(opts, file);
      } catch (error) {
        // A body cut short on the way is fetched again like a dropped connection; after the retries the run
        // fails rather than take the page for the last one.
        if (error instanceof IncompleteJsonError)
          throw new HttpAttemptError(
            `${request.method} ${client.redact(pageUrl.href)}: ${error.message}`,
            response.status,
            undefined,
            true,
            error,
          );
        throw error;
      }
      return { file, name, size, headers: response.headers, facts };
    });
    if (result === 'unchanged') {
      context.logger.info(
        `${client.redact(url.href)} is unchanged since the last run (304): nothing to load`,
      );
      return [];
    }
    if (page === 1 && opts.conditional) {
      const etag = header(result.headers, 'etag');
      const lastModified = header(result.headers, 'last-modified');
      if (etag || lastModified)
        chainState = {
          url: client.redact(url.href),
          ...(etag ? { etag } : {}),
          ...(lastModified ? { lastModified } : {}),
        };
    }
    files.push({ id: result.file, name: result.name, size: result.size });
    url = nextPage(opts, url, result, page);
    if (url && visited.has(url.href)) {
      context.logger.warn(`${client.redact(url.href)} was already read in this run: pagination stops`);
      url = undefined;
    }
    if (url && opts.auth && url.origin !== first.origin) {
      throw new SluiceError(
        'SOURCE_IO',
        `the next page is on another origin (${url.origin}); the credentials are not sent there`,
        { where: 'source.pagination', hint: 'List that URL in source.url if it is meant to be read.' },
      );
    }
  }
  const last = files[files.length - 1];
  if (last && chainState && complete) last.state = { [key]: chainState };
  return files;
}

function withQuery(
  url: URL,
  query: HttpSourceOptions['query'],
  pagination: HttpSourceOptions['pagination'],
): URL {
  const out = new URL(url);
  for (const [k, v] of Object.entries(query)) out.searchParams.set(k, String(v));
  if (pagination?.type === 'page') {
    out.searchParams.set(pagination.param, String(pagination.start));
    if (pagination.sizeParam && pagination.size)
      out.searchParams.set(pagination.sizeParam, String(pagination.size));
  } else if (pagination?.type === 'offset') {
    out.searchParams.set(pagination.param, String(pagination.start));
    out.searchParams.set(pagination.limitParam, String(pagination.limit));
  }
  return out;
}

function requestBody(opts: HttpSourceOptions): { body?: string } {
  if (opts.body === undefined) return {};
  return { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) };
}

/** The state key of a request: a hash, since the URL and body may hold values that are not for a log. */
function stateKey(opts: HttpSourceOptions, url: URL): string {
  const bare = new URL(url);
  if (opts.auth?.type === 'apiKey' && opts.auth.in === 'query') bare.searchParams.delete(opts.auth.name);
  const hash = createHash('sha256')
    .update(`${opts.method} ${bare.href}\n${requestBody(opts).body ?? ''}`)
    .digest('hex')
    .slice(0, 32);
  return `http:${hash}`;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function refusal(response: HttpResponse, method: string, client: HttpClient): Promise<SluiceError> {
  const snippet = client.redact(await readSnippet(response.body, 300));
  const auth = response.status === 401 || response.status === 403;
  return new SluiceError(
    auth ? 'SOURCE_AUTH' : 'SOURCE_IO',
    `${method} ${client.redact(response.url.href)} answered ${response.status}${snippet ? `: ${snippet}` : ''}`,
    auth ? { hint: 'Check source.auth and the credentials it takes from the environment.' } : {},
  );
}

function baseName(url: URL): string {
  const last = url.pathname.split('/').filter(Boolean).pop() ?? '';
  const stem = last.replace(/\.[A-Za-z0-9]{1,8}$/, '');
  return safeFileName(stem || url.hostname, 60).replace(/[^A-Za-z0-9_.-]/g, '_');
}

const TYPES: [RegExp, string][] = [
  [/ndjson|jsonl|json-seq/, 'jsonl'],
  [/json/, 'json'],
  [/csv/, 'csv'],
  [/spreadsheetml/, 'xlsx'],
  [/ms-excel/, 'xls'],
  [/xml/, 'xml'],
  [/text\/plain/, 'txt'],
];

function extensionOf(response: HttpResponse, url: URL): string {
  const type = String(response.headers['content-type'] ?? '').toLowerCase();
  for (const [pattern, ext] of TYPES) if (pattern.test(type)) return ext;
  const fromPath = /\.([A-Za-z0-9]{1,8})$/.exec(url.pathname)?.[1];
  return fromPath ? fromPath.toLowerCase() : 'bin';
}
