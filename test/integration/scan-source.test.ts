import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PluginContext, RecordUnit } from '../../src/core/plugin.js';
import { scanSource } from '../../src/plugins/sources/scan-source.js';
import { startSite } from '../../examples/scan/site.mjs';
import { csvRecords } from '../helpers/csv-records.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { tempDir } from '../helpers/pipeline-harness.js';

let work: string;
let closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  work = await tempDir('sluice-scan-');
});

afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

async function serve(handler: Parameters<typeof startHttpServer>[0]): Promise<TestHttpServer> {
  const server = await startHttpServer(handler);
  closers.push(() => server.close());
  return server;
}

/** Saved state between scans, as the runner keeps it: entries of a unit saved once it is read. */
function createState() {
  const saved = new Map<string, unknown>();
  return {
    saved,
    reader: { get: async <T>(key: string) => saved.get(key) as T | undefined },
  };
}

const logged: string[] = [];

/** Opens a scan, reads its one unit, saves its state; returns the rows as objects. */
async function scan(options: Record<string, unknown>, state = createState()) {
  const context: PluginContext = {
    logger: { debug() {}, info: (m) => logged.push(m), warn: (m) => logged.push(m), error() {} },
    signal: new AbortController().signal,
    workDir: work,
    state: state.reader,
  };
  const session = await scanSource.open(scanSource.options.parse({ delay: '0s', ...options }), context);
  const units: RecordUnit[] = [];
  for await (const unit of session.units()) units.push(unit);
  expect(units).toHaveLength(1);
  const rows: Record<string, string | null>[] = [];
  for await (const { batch } of units[0]!.read()) {
    for (const row of batch.rows) {
      rows.push(Object.fromEntries(batch.columns.map((c, i) => [c.name, row[i] as string | null])));
    }
  }
  for (const [k, v] of Object.entries(units[0]!.stateAfter?.() ?? {})) state.saved.set(k, v);
  await session.close();
  return { rows, state };
}

const pick = (row: Record<string, string | null>) => ({
  id: row.id,
  status: row.status,
  title: row.title,
  exists: row.exists,
  private: row.private,
  downloadable: row.downloadable,
  file: row.file,
  download: row.download,
  error: row.error,
});

const siteRules = {
  invalid: { text: 'event not found' },
  private: { selector: 'form.login' },
  download: { selector: 'a.download' },
};

describe('scan source', () => {
  it('tells valid, invalid, private, missing and downloadable pages apart, downloads and writes the CSV', async () => {
    const site = await startSite();
    closers.push(site.close);
    const inbox = path.join(work, 'inbox');
    const reports = path.join(work, 'reports');
    const { rows, state } = await scan({
      urlTemplate: `${site.origin}/event/{id}`,
      ids: { from: 101, to: 105 },
      ...siteRules,
      downloadTo: inbox,
      csv: { dir: reports },
    });
    expect(rows.map(pick)).toEqual([
      {
        id: '101',
        status: '200',
        title: 'Conference 101',
        exists: 'true',
        private: 'false',
        downloadable: 'true',
        file: '101_attendees-101.csv',
        download: 'downloaded',
        error: null,
      },
      {
        id: '102',
        status: '200',
        title: 'Conference 102',
        exists: 'true',
        private: 'false',
        downloadable: 'false',
        file: null,
        download: null,
        error: null,
      },
      {
        id: '103',
        status: '200',
        title: 'Private event',
        exists: 'true',
        private: 'true',
        downloadable: 'false',
        file: null,
        download: null,
        error: null,
      },
      {
        id: '104',
        status: '200',
        title: 'MeetMax',
        exists: 'false',
        private: 'false',
        downloadable: 'false',
        file: null,
        download: null,
        error: null,
      },
      {
        id: '105',
        status: '404',
        title: 'Not found',
        exists: 'false',
        private: 'false',
        downloadable: 'false',
        file: null,
        download: null,
        error: null,
      },
    ]);
    expect(rows[0]!.download_url).toBe(`${site.origin}/files/event-101.csv`);
    expect(await readdir(inbox)).toEqual(['101_attendees-101.csv']);
    expect(await readFile(path.join(inbox, '101_attendees-101.csv'), 'utf8')).toContain('ana@example.com');
    expect(state.saved.size).toBe(1);

    const [report] = await readdir(reports);
    expect(report).toMatch(/^\d{8}_\d{6}_scan\.csv$/);
    const records = csvRecords(await readFile(path.join(reports, report!), 'utf8'));
    expect(records[0]).toEqual(rowsHeader);
    expect(records.slice(1).map((r) => [r[0], r[4], r[5], r[6]])).toEqual([
      ['101', 'true', 'false', 'true'],
      ['102', 'true', 'false', 'false'],
      ['103', 'true', 'true', 'false'],
      ['104', 'false', 'false', 'false'],
      ['105', 'false', 'false', 'false'],
    ]);
  });

  it('downloads nothing new on a rerun: the ETag goes back and the server answers 304', async () => {
    let fileRequests: (string | undefined)[] = [];
    const server = await serve((req, res) => {
      if (req.url === '/e/1') {
        res.end('<title>One</title><a class="download" href="/f/one.csv">get</a>');
        return;
      }
      if (req.url === '/e/2') {
        res.end('<title>Two</title><a class="download" href="/f/two.csv">get</a>');
        return;
      }
      fileRequests.push(req.headers['if-none-match'] as string | undefined);
      if (req.url === '/f/one.csv') {
        if (req.headers['if-none-match'] === '"one-v1"') {
          res.writeHead(304);
          res.end();
          return;
        }
        res.writeHead(200, { etag: '"one-v1"', 'content-length': '4' });
        res.end('a,b\n');
        return;
      }
      // No ETag here: the size tells that it is the same file.
      res.writeHead(200, { 'content-length': '6' });
      res.end('x,y,z\n');
    });
    const inbox = path.join(work, 'inbox');
    const options = {
      urlTemplate: `${server.origin}/e/{id}`,
      ids: [1, 2],
      download: { selector: 'a.download' },
      downloadTo: inbox,
    };
    const first = await scan(options);
    expect(first.rows.map((r) => r.download)).toEqual(['downloaded', 'downloaded']);
    expect(fileRequests).toEqual([undefined, undefined]);
    fileRequests = [];
    const second = await scan(options, first.state);
    expect(second.rows.map((r) => [r.download, r.file])).toEqual([
      ['unchanged', '1_one.csv'],
      ['unchanged', '2_two.csv'],
    ]);
    expect(fileRequests).toEqual(['"one-v1"', undefined]);
    expect((await readdir(inbox)).sort()).toEqual(['1_one.csv', '2_two.csv']);
  });

  it('leaves no partial file when a download is cut halfway, and gets it on the next run', async () => {
    let cut = true;
    const server = await serve((req, res) => {
      if (req.url === '/e/7') {
        res.end('<title>Seven</title><a class="download" href="/f/big.csv">get</a>');
        return;
      }
      const body = 'id\n' + '1\n'.repeat(50_000);
      res.writeHead(200, { 'content-length': String(body.length), etag: '"big"' });
      if (cut) {
        res.write(body.slice(0, body.length / 2), () => res.destroy());
        return;
      }
      res.end(body);
    });
    const inbox = path.join(work, 'inbox');
    const options = {
      urlTemplate: `${server.origin}/e/{id}`,
      ids: [7],
      download: { selector: 'a.download' },
      downloadTo: inbox,
      retry: { attempts: 2, baseDelay: '10ms' },
    };
    const first = await scan(options);
    expect(first.rows[0]).toMatchObject({
      exists: 'true',
      downloadable: 'true',
      download: 'failed',
      file: null,
    });
    expect(first.rows[0]!.error).toMatch(/^download failed: /);
    expect(logged).toContain('downloaded 0 files, 0 unchanged, 1 failed');
    expect(await readdir(inbox)).toEqual([]);
    expect(first.state.saved.size).toBe(0);

    cut = false;
    const second = await scan(options, first.state);
    expect(second.rows[0]).toMatchObject({ download: 'downloaded', file: '7_big.csv', error: null });
    expect((await readFile(path.join(inbox, '7_big.csv'), 'utf8')).length).toBe(3 + 100_000);
    expect(await readdir(inbox)).toEqual(['7_big.csv']);
  });

  it('waits out a 429 with Retry-After and a 503, records a page that times out, and goes on', async () => {
    const calls = new Map<string, number>();
    const server = await serve((req, res) => {
      const n = (calls.get(req.url!) ?? 0) + 1;
      calls.set(req.url!, n);
      if (req.url === '/e/1' && n === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end();
      } else if (req.url === '/e/2' && n === 1) {
        res.writeHead(503);
        res.end();
      } else if (req.url === '/e/3') {
        // never answers: the read timeout ends it
      } else res.end(`<title>Page ${req.url}</title>`);
    });
    const { rows } = await scan({
      urlTemplate: `${server.origin}/e/{id}`,
      ids: [1, 2, 3, 4],
      retry: { attempts: 3, baseDelay: '10ms' },
      readTimeout: '300ms',
    });
    expect(rows.map((r) => [r.id, r.status, r.exists, r.title])).toEqual([
      ['1', '200', 'true', 'Page /e/1'],
      ['2', '200', 'true', 'Page /e/2'],
      ['3', null, 'false', null],
      ['4', '200', 'true', 'Page /e/4'],
    ]);
    expect(rows[2]!.error).toContain('no data for 300ms (readTimeout)');
    const first = server.requests.filter((r) => r.url === '/e/1');
    expect(first[1]!.at - first[0]!.at).toBeGreaterThanOrEqual(950);
    expect(calls.get('/e/3')).toBe(3);
  });

  it('is polite by default: one request at a time, spaced by delay, with an identifying User-Agent', async () => {
    let inFlight = 0;
    let most = 0;
    const server = await serve((_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('<title>x</title>');
      }, 20);
    });
    await scan({ urlTemplate: `${server.origin}/e/{id}`, ids: { from: 1, to: 4 }, delay: '150ms' });
    const times = server.requests.map((r) => r.at);
    expect(times).toHaveLength(4);
    // Three intervals of at least 150 ms; the margin absorbs when each request was seen arriving.
    expect(times[3]! - times[0]!).toBeGreaterThanOrEqual(3 * 150 - 30);
    expect(most).toBe(1);
    expect(server.requests[0]!.headers['user-agent']).toMatch(/^Sluice\/.+ETL/);
    expect(scanSource.options.parse({ urlTemplate: 'http://x/{id}', ids: [1] })).toMatchObject({
      delay: 1000,
      concurrency: 1,
    });
  });

  it('refuses a template without {id}, a reversed range and a selector cheerio cannot read', async () => {
    expect(scanSource.options.safeParse({ urlTemplate: 'http://x/e', ids: [1] }).success).toBe(false);
    expect(
      scanSource.options.safeParse({ urlTemplate: 'http://x/{id}', ids: { from: 5, to: 1 } }).success,
    ).toBe(false);
    await expect(
      scan({ urlTemplate: 'http://127.0.0.1:9/{id}', ids: [1], download: { selector: 'a[' } }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', where: 'source.download' });
  });
});

const rowsHeader = [
  'id',
  'url',
  'status',
  'title',
  'exists',
  'private',
  'downloadable',
  'download_url',
  'file',
  'download',
  'error',
  'checked_at',
];
