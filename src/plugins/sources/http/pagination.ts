import type { IncomingHttpHeaders } from 'node:http';
import { SluiceError } from '../../../core/errors.js';
import type { HttpSourceOptions } from './http-options.js';
import { inspectJson, type PageFacts } from './inspect-json.js';

/** A saved page, with what the pagination read from it. */
export interface PageResult {
  file: string;
  name: string;
  size: number;
  headers: IncomingHttpHeaders;
  /** What the body says for the pagination; undefined when the pagination does not read the body. */
  facts: PageFacts | undefined;
}

/**
 * Reads what the pagination needs from a saved page's body (the cursor, the next URL, the record count),
 * or nothing when it goes by the Link header or there is no pagination. Throws when the body cannot tell:
 * a page cut short is never taken as the last one.
 */
export async function readPageFacts(opts: HttpSourceOptions, file: string): Promise<PageFacts | undefined> {
  const p = opts.pagination;
  if (!p || p.type === 'link') return undefined;
  if (p.type === 'cursor' || p.type === 'nextUrl')
    return inspectJson(file, { recordsPath: undefined, fields: [p.field] });
  return inspectJson(file, { recordsPath: opts.recordsPath, fields: [] });
}

/** The URL of the page after `url`, or undefined when `url` was the last. */
export function nextPage(
  opts: HttpSourceOptions,
  url: URL,
  page: PageResult,
  pageNumber: number,
): URL | undefined {
  const p = opts.pagination;
  if (!p) return undefined;
  if (p.type === 'link') {
    const link = nextLink(page.headers.link);
    return link ? new URL(link, url) : undefined;
  }
  const facts = page.facts ?? { records: undefined, fields: {} };
  if (p.type === 'cursor' || p.type === 'nextUrl') {
    const value = facts.fields[p.field];
    if (value === undefined || value === null || value === '' || value === false) return undefined;
    if (typeof value === 'object') {
      throw new SluiceError(
        'SOURCE_IO',
        `${p.field} in the response is not a ${p.type === 'cursor' ? 'cursor' : 'URL'}`,
        {
          where: `${page.name}: source.pagination.field`,
        },
      );
    }
    const text = typeof value === 'string' ? value : ((value as { text?: string }).text ?? String(value));
    if (p.type === 'nextUrl') return new URL(text, url);
    const next = new URL(url);
    next.searchParams.set(p.param, text);
    return next;
  }
  if (facts.records === undefined) {
    throw new SluiceError(
      'SOURCE_IO',
      `the response has no records array at ${opts.recordsPath ?? 'the top level'}, so the last page cannot be told`,
      { where: `${page.name}: source.recordsPath` },
    );
  }
  const size = p.type === 'page' ? p.size : p.limit;
  if (facts.records === 0 || (size !== undefined && facts.records < size)) return undefined;
  const next = new URL(url);
  if (p.type === 'page') next.searchParams.set(p.param, String(p.start + pageNumber));
  else next.searchParams.set(p.param, String(p.start + pageNumber * p.limit));
  return next;
}

/** The `rel="next"` target of a Link header (RFC 8288), if any. */
export function nextLink(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return undefined;
  for (const match of text.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const params = match[2] ?? '';
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(params)?.[1];
    if (rel && rel.toLowerCase().split(/\s+/).includes('next')) return match[1];
  }
  return undefined;
}
