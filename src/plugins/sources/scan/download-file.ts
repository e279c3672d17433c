import { createHash } from 'node:crypto';
import path from 'node:path';
import { SluiceError } from '../../../core/errors.js';
import type { HttpClient, HttpResponse } from '../../../connectors/http/http-client.js';
import { readSnippet } from '../../../connectors/http/read-snippet.js';
import { saveBody } from '../../../connectors/http/save-body.js';
import { safeFileName } from '../safe-file-name.js';

/** What is kept per download URL: enough to tell next time that the file has not changed. */
export interface DownloadState {
  url: string;
  file: string;
  etag?: string;
  size?: number;
}

export interface DownloadOutcome {
  status: 'downloaded' | 'unchanged';
  file: string;
  /** The entry to save with the scan's load. */
  state: DownloadState;
}

export function downloadStateKey(url: string): string {
  return `scan:download:${createHash('sha256').update(url).digest('hex').slice(0, 32)}`;
}

/**
 * Fetches `url` into `dir` unless the state shows the same file (same ETag, or same size when the server
 * gives no ETag) was fetched before. The body goes to a `.part` name renamed when whole.
 */
export async function downloadFile(a: {
  client: HttpClient;
  url: string;
  id: string;
  dir: string;
  fileName: string;
  /** What the last download of this URL saved, from the pipeline's state. */
  prior: DownloadState | undefined;
}): Promise<DownloadOutcome> {
  const prior = a.prior;
  const request = {
    method: 'GET' as const,
    url: new URL(a.url),
    headers: (prior?.etag ? { 'if-none-match': prior.etag } : {}) as Record<string, string>,
  };
  return a.client.request(request, async (response): Promise<DownloadOutcome> => {
    const etag = header(response, 'etag');
    const length = Number(header(response, 'content-length'));
    const size = Number.isFinite(length) && !response.headers['content-encoding'] ? length : undefined;
    const same =
      prior !== undefined &&
      (response.status === 304 ||
        (etag !== undefined && etag === prior.etag) ||
        (etag === undefined && prior.etag === undefined && size !== undefined && size === prior.size));
    if (same) {
      response.discard();
      return { status: 'unchanged', file: prior.file, state: prior };
    }
    if (response.status < 200 || response.status >= 300) {
      const snippet = await readSnippet(response.body, 200);
      throw new SluiceError(
        'SOURCE_IO',
        `the download answered ${response.status}${snippet ? `: ${snippet}` : ''}`,
      );
    }
    const name = fileNameFor(a.fileName, a.id, serverName(response));
    const bytes = await saveBody(response, path.join(a.dir, name));
    const state: DownloadState = {
      url: a.url,
      file: name,
      size: bytes,
      ...(etag !== undefined ? { etag } : {}),
    };
    return { status: 'downloaded', file: name, state };
  });
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The file name the server gives (Content-Disposition), else the last segment of the final URL. */
function serverName(response: HttpResponse): string {
  const disposition = header(response, 'content-disposition') ?? '';
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition)?.[1];
  if (star) {
    try {
      return decodeURIComponent(star.trim());
    } catch {
      // fall through to the plain parameter
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition)?.[1];
  if (plain) return plain.trim();
  const last = response.url.pathname.split('/').filter(Boolean).pop();
  return last ? decodeURIComponentSafe(last) : 'download';
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The template filled in, made safe as one file name (no path, no `..`, no control characters). */
export function fileNameFor(template: string, id: string, name: string): string {
  const base = path.basename(name.replace(/\\/g, '/'));
  return safeFileName(template.replaceAll('{id}', id).replaceAll('{name}', base));
}
