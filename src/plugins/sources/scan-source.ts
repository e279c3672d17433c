import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { errorMessage, isSluiceError, SluiceError } from '../../core/errors.js';
import { urlSecrets } from '../../core/secrets.js';
import { defineRecordSource, type BatchResult, type RecordUnit } from '../../core/plugin.js';
import type { Column } from '../../core/records.js';
import { createHttpClient } from '../../connectors/http/http-client.js';
import { transportSettings } from '../../connectors/http/transport-options.js';
import { createPageChecker, type PageFacts } from './scan/check-page.js';
import { downloadFile, downloadStateKey, type DownloadState } from './scan/download-file.js';
import { ScanCsv, timestamp } from './scan/scan-csv.js';
import { scanSourceOptions, type ScanOptions } from './scan/scan-options.js';

/** The result columns, in order; the loader creates the table with these types. */
export const SCAN_COLUMNS: Column[] = [
  { name: 'id', type: 'text' },
  { name: 'url', type: 'text' },
  { name: 'status', type: 'integer' },
  { name: 'title', type: 'text' },
  { name: 'exists', type: 'boolean' },
  { name: 'private', type: 'boolean' },
  { name: 'downloadable', type: 'boolean' },
  { name: 'download_url', type: 'text' },
  { name: 'file', type: 'text' },
  { name: 'download', type: 'text' },
  { name: 'error', type: 'text' },
  { name: 'checked_at', type: 'timestamp' },
];

type Cell = string | null;

/**
 * An event checker: one page per id from a URL template, each recorded (status, title, exists,
 * private, download link, error) as one row of a single unit; the files found are downloaded into an inbox
 * for a files pipeline to import. Polite by default: one request at a time, a second apart.
 */
export const scanSource = defineRecordSource({
  name: 'scan',
  summary:
    'Checks pages by id (exists, private, download link) with CSS/text rules; downloads the files found into an inbox.',
  schemes: [],
  options: scanSourceOptions,
  async open(opts, context) {
    const { load } = await import('cheerio');
    const check = createPageChecker(opts, load);
    const client = createHttpClient({
      logger: context.logger,
      signal: context.signal,
      ...transportSettings(opts),
      minIntervalMs: opts.delay,
      // A key written into the template's query (?api_key=…) is masked like the http source's credentials.
      secrets: urlSecrets(opts.urlTemplate.replaceAll('{id}', '0')),
    });
    const ids = idList(opts);
    const downloadDir = opts.downloadTo ? path.resolve(opts.downloadTo) : undefined;
    // A dry run changes nothing outside the database: no inbox folder, no download, no CSV report.
    const dryRun = context.dryRun === true;
    if (downloadDir && !dryRun) await mkdir(downloadDir, { recursive: true });
    const saved: Record<string, DownloadState> = {};
    /** What became of the files offered, this read: for the line the run summary shows. */
    let downloads = { downloaded: 0, unchanged: 0, failed: 0, notFetched: 0 };

    const unit: RecordUnit = {
      key: `scan:${createHash('sha256')
        .update(`${opts.urlTemplate}\n${ids.join(',')}`)
        .digest('hex')
        .slice(0, 16)}`,
      name: 'scan',
      async *read() {
        downloads = { downloaded: 0, unchanged: 0, failed: 0, notFetched: 0 };
        const csv =
          opts.csv && !dryRun
            ? new ScanCsv(
                path.resolve(opts.csv.dir, opts.csv.name.replaceAll('{timestamp}', timestamp(new Date()))),
              )
            : undefined;
        await csv?.open(SCAN_COLUMNS.map((c) => c.name));
        let rows: Cell[][] = [];
        let lines: number[] = [];
        const batch = (): BatchResult => {
          const result: BatchResult = {
            batch: { columns: SCAN_COLUMNS.map((c) => ({ ...c })), rows, origin: 'scan', lines },
            rejects: [],
            rejectedRows: 0,
          };
          rows = [];
          lines = [];
          return result;
        };
        try {
          let yielded = false;
          // Pages are checked `concurrency` at a time, kept in id order.
          for (let start = 0; start < ids.length; start += opts.concurrency) {
            const slice = ids.slice(start, start + opts.concurrency);
            const results = await Promise.all(slice.map((id) => scanOne(id)));
            for (let k = 0; k < results.length; k++) {
              rows.push(results[k]!);
              lines.push(start + k + 1);
            }
            await csv?.write(results);
            if (rows.length >= opts.batchSize) {
              yielded = true;
              yield batch();
            }
          }
          if (rows.length > 0 || !yielded) yield batch();
          await csv?.finish();
          if (csv) context.logger.info(`scan results written to ${csv.file}`);
          else if (opts.csv) context.logger.info('dry run: no CSV report written');
          if (downloadDir) logDownloads();
        } catch (error) {
          await csv?.discard();
          throw error;
        }
      },
      stateAfter: () =>
        Object.fromEntries(Object.entries(saved).map(([url, s]) => [downloadStateKey(url), s])),
    };

    async function scanOne(id: string): Promise<Cell[]> {
      const url = opts.urlTemplate.replaceAll('{id}', encodeURIComponent(id));
      const checkedAt = new Date().toISOString();
      let status: number | null = null;
      let facts: PageFacts | undefined;
      let error: string | null = null;
      try {
        const page = await client.request(
          { method: 'GET', url: new URL(url), headers: { accept: 'text/html,application/xhtml+xml' } },
          async (response) => ({
            status: response.status,
            url: response.url,
            html: await readText(response.body, opts.maxPageBytes),
          }),
        );
        status = page.status;
        facts = check(page.html, page.status, page.url);
        if (page.status !== 404 && page.status !== 410 && (page.status < 200 || page.status >= 300))
          error = `HTTP ${page.status}`;
      } catch (failure) {
        if (isSluiceError(failure, 'ABORTED')) throw failure;
        status = (failure as { status?: number }).status ?? null;
        error = errorMessage(failure);
        context.logger.warn(`scan ${id}: ${error}`);
      }
      let file: string | null = null;
      let download: string | null = null;
      if (facts?.downloadUrl && downloadDir && dryRun) {
        downloads.notFetched++;
      } else if (facts?.downloadUrl && downloadDir) {
        try {
          const outcome = await downloadFile({
            client,
            url: facts.downloadUrl,
            id,
            dir: downloadDir,
            fileName: opts.fileName,
            prior: await context.state?.get<DownloadState>(downloadStateKey(facts.downloadUrl)),
          });
          saved[facts.downloadUrl] = outcome.state;
          downloads[outcome.status]++;
          file = outcome.file;
          download = outcome.status;
          context.logger.info(
            `scan ${id}: ${outcome.status === 'downloaded' ? 'downloaded' : 'unchanged'} ${file}`,
          );
        } catch (failure) {
          if (isSluiceError(failure, 'ABORTED')) throw failure;
          download = 'failed';
          downloads.failed++;
          error = `download failed: ${errorMessage(failure)}`;
          context.logger.warn(`scan ${id}: ${error}`);
        }
      }
      const bool = (b: boolean | undefined) => (b === undefined ? null : b ? 'true' : 'false');
      return [
        id,
        client.redact(url),
        status === null ? null : String(status),
        facts?.title ?? null,
        facts ? bool(facts.exists) : 'false',
        bool(facts?.private),
        facts ? bool(facts.downloadUrl !== null) : null,
        facts?.downloadUrl ?? null,
        file,
        download,
        error,
        checkedAt,
      ];
    }

    function logDownloads() {
      const { downloaded, unchanged, failed, notFetched } = downloads;
      const parts = [
        `downloaded ${downloaded} file${downloaded === 1 ? '' : 's'}`,
        `${unchanged} unchanged`,
        ...(failed > 0 ? [`${failed} failed`] : []),
      ];
      if (dryRun)
        context.logger.info(
          `dry run: ${notFetched} file${notFetched === 1 ? '' : 's'} offered for download, none fetched`,
          { downloads, outcome: true },
        );
      else context.logger.info(parts.join(', '), { downloads, outcome: true });
    }

    return {
      location: client.redact(opts.urlTemplate),
      async *units() {
        yield unit;
      },
      async close() {},
    };
  },
});

function idList(opts: ScanOptions): string[] {
  if (Array.isArray(opts.ids)) return opts.ids.map(String);
  const out: string[] = [];
  for (let id = opts.ids.from; id <= opts.ids.to; id++) out.push(String(id));
  return out;
}

/** A page's text, refused past `max` bytes (a scan reads pages, not downloads). */
async function readText(body: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new SluiceError('SOURCE_IO', `the page is larger than ${max} bytes (maxPageBytes)`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
