import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSluiceError, SluiceError } from '../../src/core/errors.js';
import type { PluginContext, SourceFile } from '../../src/core/plugin.js';
import { httpSource } from '../../src/plugins/sources/http-source.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import type { LogEntry } from '../../src/store/step-log.js';
import { sendJson, startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { runPipelineFile, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

let servers: TestHttpServer[] = [];
let work: string;

beforeEach(async () => {
  work = await tempDir('sluice-http-');
});

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(handler: Parameters<typeof startHttpServer>[0]): Promise<TestHttpServer> {
  const server = await startHttpServer(handler);
  servers.push(server);
  return server;
}

const logged: string[] = [];
function context(state: Record<string, unknown> = {}): PluginContext {
  const log = (m: string) => logged.push(m);
  return {
    logger: { debug: log, info: log, warn: log, error: log },
    signal: new AbortController().signal,
    workDir: work,
    state: { get: async <T>(key: string) => state[key] as T | undefined },
  };
}

/** Opens the source with these options and lists what it read. */
async function list(options: Record<string, unknown>, state: Record<string, unknown> = {}) {
  const session = await httpSource.open(httpSource.options.parse(options), context(state));
  const files: SourceFile[] = [];
  for await (const file of session.list()) files.push(file);
  await session.close();
  const bodies = await Promise.all(files.map((f) => readFile(f.id, 'utf8')));
  return { files, bodies };
}

async function listError(options: Record<string, unknown>): Promise<SluiceError> {
  try {
    await list(options);
  } catch (error) {
    if (isSluiceError(error)) return error;
    throw error;
  }
  throw new Error('expected the listing to fail');
}

const items = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: from + i, name: `item ${from + i}` }));

describe('http source: pagination', () => {
  it('pages by number until a short page', async () => {
    const server = await serve((req, res) => {
      const page = Number(new URL(req.url!, 'http://x').searchParams.get('page'));
      sendJson(res, { data: { items: items((page - 1) * 2 + 1, page < 3 ? 2 : 1) } });
    });
    const { files, bodies } = await list({
      url: `${server.origin}/api/items`,
      pagination: { type: 'page', sizeParam: 'per_page', size: 2 },
      recordsPath: 'data.items',
    });
    expect(server.requests.map((r) => r.url)).toEqual([
      '/api/items?page=1&per_page=2',
      '/api/items?page=2&per_page=2',
      '/api/items?page=3&per_page=2',
    ]);
    expect(files.map((f) => f.name)).toEqual(['items_p0001.json', 'items_p0002.json', 'items_p0003.json']);
    expect(JSON.parse(bodies[2]!)).toEqual({ data: { items: [{ id: 5, name: 'item 5' }] } });
  });

  it('pages by offset until an empty page, on a top-level array', async () => {
    const server = await serve((req, res) => {
      const offset = Number(new URL(req.url!, 'http://x').searchParams.get('offset'));
      sendJson(res, offset < 6 ? items(offset + 1, 3) : []);
    });
    const { files } = await list({
      url: `${server.origin}/rows`,
      pagination: { type: 'offset', limit: 3 },
    });
    expect(server.requests.map((r) => r.url)).toEqual([
      '/rows?offset=0&limit=3',
      '/rows?offset=3&limit=3',
      '/rows?offset=6&limit=3',
    ]);
    expect(files).toHaveLength(3);
  });

  it('follows a cursor field of the body', async () => {
    const server = await serve((req, res) => {
      const cursor = new URL(req.url!, 'http://x').searchParams.get('after');
      if (!cursor) sendJson(res, { items: items(1, 2), meta: { next: 'c2' } });
      else if (cursor === 'c2') sendJson(res, { items: items(3, 2), meta: { next: 'c3' } });
      else sendJson(res, { items: items(5, 1), meta: { next: null } });
    });
    await list({
      url: `${server.origin}/feed?since=2024-01-01`,
      pagination: { type: 'cursor', param: 'after', field: 'meta.next' },
    });
    expect(server.requests.map((r) => r.url)).toEqual([
      '/feed?since=2024-01-01',
      '/feed?since=2024-01-01&after=c2',
      '/feed?since=2024-01-01&after=c3',
    ]);
  });

  it('follows the Link header', async () => {
    const server = await serve((req, res) => {
      const n = Number(new URL(req.url!, 'http://x').searchParams.get('n') ?? '1');
      const links = [`<${server.origin}/first>; rel="first"`];
      if (n < 3) links.push(`</list?n=${n + 1}>; rel="next"`);
      sendJson(res, items(n, 1), { link: links.join(', ') });
    });
    const { files } = await list({ url: `${server.origin}/list`, pagination: { type: 'link' } });
    expect(server.requests.map((r) => r.url)).toEqual(['/list', '/list?n=2', '/list?n=3']);
    expect(files).toHaveLength(3);
  });

  it('follows a next-URL field, stops at maxPages and on a URL already read', async () => {
    const server = await serve((req, res) => {
      const n = Number(new URL(req.url!, 'http://x').searchParams.get('n') ?? '1');
      sendJson(res, { results: items(n, 1), next: n < 100 ? `${server.origin}/r?n=${n + 1}` : null });
    });
    const { files } = await list({
      url: `${server.origin}/r`,
      pagination: { type: 'nextUrl', field: 'next' },
      maxPages: 4,
    });
    expect(files).toHaveLength(4);
    expect(logged.some((m) => m.includes('maxPages (4)'))).toBe(true);

    const loop = await serve((_req, res) => sendJson(res, { results: [], next: '/same' }));
    const again = await list({ url: `${loop.origin}/same`, pagination: { type: 'nextUrl', field: 'next' } });
    expect(again.files).toHaveLength(1);
  });
});

describe('http source: failures and limits', () => {
  it('waits as long as Retry-After says after a 429, and backs off after a 503', async () => {
    let calls = 0;
    const server = await serve((_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end('slow down');
      } else if (calls === 2) {
        res.writeHead(503);
        res.end('busy');
      } else sendJson(res, items(1, 1));
    });
    const { files } = await list({ url: `${server.origin}/x`, retry: { attempts: 4, baseDelay: '50ms' } });
    expect(files).toHaveLength(1);
    const [first, second] = server.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect(server.requests).toHaveLength(3);
  });

  it('fails when the retries run out, and at once on a 404, with the status', async () => {
    const server = await serve((req, res) => {
      res.writeHead(req.url === '/missing' ? 404 : 503);
      res.end('nope');
    });
    const busy = await listError({ url: `${server.origin}/busy`, retry: { attempts: 2, baseDelay: '10ms' } });
    expect(busy.code).toBe('SOURCE_UNREACHABLE');
    expect(busy.message).toContain('503');
    const before = server.requests.length;
    const missing = await listError({ url: `${server.origin}/missing`, retry: { attempts: 4 } });
    expect(missing.code).toBe('SOURCE_IO');
    expect(missing.message).toContain('404: nope');
    expect(server.requests.length - before).toBe(1);
  });

  it('gives up on a server that stops answering (read timeout)', async () => {
    const server = await serve(() => {
      // never answers
    });
    const error = await listError({
      url: `${server.origin}/slow`,
      readTimeout: '300ms',
      retry: { attempts: 2, baseDelay: '10ms' },
    });
    expect(error.code).toBe('SOURCE_UNREACHABLE');
    expect(error.message).toContain('no data for 300ms (readTimeout)');
    expect(server.requests).toHaveLength(2);
  });

  it('gives up on a server that never completes the connection (connect timeout)', async () => {
    // A listening socket nobody accepts from, its queue filled: the kernel drops further SYNs, so a
    // connection attempt hangs as it would towards a firewalled host.
    const holder = spawn(
      '/usr/bin/python3',
      [
        '-c',
        [
          'import socket, sys, time',
          's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
          'port = s.getsockname()[1]',
          'fill = [socket.create_connection(("127.0.0.1", port)) for _ in range(1)]',
          'print(port, flush=True)',
          'time.sleep(60)',
        ].join('\n'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [line] = (await once(holder.stdout!, 'data')) as [Buffer];
      const port = Number(line.toString().trim());
      const error = await listError({
        url: `http://127.0.0.1:${port}/`,
        connectTimeout: '300ms',
        readTimeout: '30s',
        retry: { attempts: 2, baseDelay: '10ms' },
      });
      expect(error.code).toBe('SOURCE_UNREACHABLE');
      expect(error.message).toContain('no connection within 300ms (connectTimeout)');
    } finally {
      holder.kill();
    }
  });

  it('spaces requests by the rate limit', async () => {
    const server = await serve((req, res) => {
      const page = Number(new URL(req.url!, 'http://x').searchParams.get('page'));
      sendJson(res, page < 5 ? items(page, 1) : []);
    });
    await list({ url: `${server.origin}/p`, pagination: { type: 'page' }, rateLimit: 5 });
    const times = server.requests.map((r) => r.at);
    expect(times).toHaveLength(5);
    // Four intervals of at least 200 ms; the margin absorbs when each request was seen arriving. No upper
    // bound: a busy machine may only be slower.
    expect(times[4]! - times[0]!).toBeGreaterThanOrEqual(4 * 200 - 30);
  });

  it('sends a POST body, the API key in the query, and never logs the key', async () => {
    logged.length = 0;
    const server = await serve((_req, res) => sendJson(res, items(1, 1)));
    await list({
      url: `${server.origin}/search`,
      method: 'POST',
      body: { q: 'x' },
      headers: { 'content-type': 'application/json' },
      auth: { type: 'apiKey', name: 'key', value: 's3cr3t-key', in: 'query' },
    });
    const [req] = server.requests;
    expect(req).toMatchObject({ method: 'POST', url: '/search?key=s3cr3t-key', body: '{"q":"x"}' });
    expect(req!.headers['user-agent']).toMatch(/^Sluice\//);
    expect(logged.join('\n')).toContain('/search?key=***');
    expect(logged.join('\n')).not.toContain('s3cr3t');
  });
});

describe('http source in a pipeline', () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeEach(async () => {
    testDb = await createTestDatabase();
    db = await openStore({ databaseUrl: testDb.url, home: work });
  });

  afterEach(async () => {
    await db.close();
    await testDb.drop();
  });

  it('loads the pages through the json parser, then skips the unchanged resource through its ETag', async () => {
    let version = 1;
    const server = await serve((req, res) => {
      const cursor = new URL(req.url!, 'http://x').searchParams.get('cursor');
      const etag = `"v${version}-${cursor ?? 'first'}"`;
      if (req.headers.authorization !== 'Bearer tok-123') {
        res.writeHead(401);
        res.end('who are you?');
        return;
      }
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      const page = cursor
        ? { data: { items: [{ id: 3, tags: ['x'] }] }, next: null }
        : {
            data: {
              items: [
                { id: 1, name: 'Ana', tags: [] },
                { id: 2, name: 'Bo', tags: ['a'] },
                ...(version > 1 ? [{ id: 4, name: 'Cy', tags: [] }] : []),
              ],
            },
            next: 'p2',
          };
      sendJson(res, page, { etag });
    });
    const pipeline = path.join(work, 'pipeline.yaml');
    await writeFile(
      pipeline,
      [
        'name: http_items',
        'source:',
        `  url: ${server.origin}/v1/items`,
        '  auth: { type: bearer, token: "${API_TOKEN}" }',
        '  pagination: { type: cursor, field: next }',
        'parse: { type: json, path: data.items, columns: [id, name, tags] }',
        'load: { type: postgres, table: items }',
        '',
      ].join('\n'),
    );
    const entries: LogEntry[] = [];
    const run = () =>
      runPipelineFile(db, pipeline, {
        env: { API_TOKEN: 'tok-123' },
        home: work,
        verbose: true,
        onLog: (e) => entries.push(e),
      });
    const first = await run();
    expect(first.status).toBe('succeeded');
    expect(first).toMatchObject({ filesLoaded: 2, rowsLoaded: 3 });
    const { rows } = await db.query<{ id: string; name: string | null; tags: string }>(
      'SELECT id, name, tags FROM items ORDER BY id',
    );
    expect(rows).toEqual([
      { id: '1', name: 'Ana', tags: '[]' },
      { id: '2', name: 'Bo', tags: '["a"]' },
      { id: '3', name: null, tags: '["x"]' },
    ]);

    const seen = server.requests.length;
    const second = await run();
    expect(second.status).toBe('succeeded');
    expect(second).toMatchObject({ filesLoaded: 0, filesSkipped: 0, rowsLoaded: 0 });
    const rerun = server.requests.slice(seen);
    expect(rerun).toHaveLength(1);
    expect(rerun[0]!.headers['if-none-match']).toBe('"v1-first"');
    expect((await db.query('SELECT count(*)::int AS n FROM items')).rows[0]).toEqual({ n: 3 });

    version = 2; // changed upstream: both pages are read again; the changed one loads, the other is a duplicate
    const third = await run();
    expect(third).toMatchObject({ status: 'succeeded', filesLoaded: 1, filesSkipped: 1 });
    expect(entries.map((e) => e.message).join('\n')).not.toContain('tok-123');
  });
});

describe('http source in a pipeline: every page, exactly once', () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeEach(async () => {
    testDb = await createTestDatabase();
    db = await openStore({ databaseUrl: testDb.url, home: work });
  });

  afterEach(async () => {
    await db.close();
    await testDb.drop();
  });

  async function pipelineFile(source: string[], parse = '{ type: json, columns: [id, name] }') {
    const file = path.join(work, `pipeline-${randomUUID()}.yaml`);
    await writeFile(
      file,
      [
        'name: http_pages',
        'source:',
        ...source.map((l) => `  ${l}`),
        `parse: ${parse}`,
        'load: { type: postgres, table: items }',
        '',
      ].join('\n'),
    );
    return file;
  }

  const count = async () =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows[0]!.n;

  it('commits a chain’s ETag with its last page: a run killed on page 3 leaves the rerun every page', async () => {
    const pages = 5;
    const perPage = 60;
    const server = await serve((req, res) => {
      const n = Number(new URL(req.url!, 'http://x').searchParams.get('page') ?? '1');
      const etag = `"page-${n}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      const headers: Record<string, string> = { etag };
      if (n < pages) headers.link = `<${server.origin}/v1/visits?page=${n + 1}>; rel="next"`;
      sendJson(res, items((n - 1) * perPage + 1, perPage), headers);
    });
    const file = await pipelineFile([`url: ${server.origin}/v1/visits`, 'pagination: { type: link }']);

    // Killed while loading page 3: pages 1 and 2 are committed.
    const stop = new AbortController();
    const killed = await runPipelineFile(db, file, {
      env: {},
      home: work,
      signal: stop.signal,
      onLog: (e) => {
        if (e.message.startsWith('loaded visits_p0002.json')) stop.abort();
      },
    });
    expect(killed.status).toBe('failed');
    expect(await count()).toBe(2 * perPage);
    expect((await db.query('SELECT key FROM sluice.state')).rows).toEqual([]);

    // The rerun asks for page 1 unconditionally and reads the chain whole; pages 1-2 are known content.
    const seen = server.requests.length;
    const rerun = await runPipelineFile(db, file, { env: {}, home: work });
    expect(rerun).toMatchObject({ status: 'succeeded', filesLoaded: 3, filesSkipped: 2 });
    expect(await count()).toBe(pages * perPage);
    const asked = server.requests.slice(seen);
    expect(asked.map((r) => r.url)).toEqual([
      '/v1/visits',
      '/v1/visits?page=2',
      '/v1/visits?page=3',
      '/v1/visits?page=4',
      '/v1/visits?page=5',
    ]);
    expect(asked.every((r) => r.headers['if-none-match'] === undefined)).toBe(true);

    // Now the chain is complete: the next run asks page 1 conditionally and stops at its 304.
    const again = server.requests.length;
    const unchanged = await runPipelineFile(db, file, { env: {}, home: work });
    expect(unchanged).toMatchObject({ status: 'succeeded', filesLoaded: 0, filesSkipped: 0 });
    expect(server.requests.slice(again).map((r) => [r.url, r.headers['if-none-match']])).toEqual([
      ['/v1/visits', '"page-1"'],
    ]);
    expect(await count()).toBe(pages * perPage);
  });

  it('never takes a page cut short before its cursor for the last one', async () => {
    let cuts = Infinity;
    const server = await serve((req, res) => {
      const cursor = new URL(req.url!, 'http://x').searchParams.get('cursor');
      const n = cursor ? Number(cursor.slice(1)) : 1;
      const body = JSON.stringify({
        items: items((n - 1) * 3 + 1, 3),
        meta: { next: n < 3 ? `c${n + 1}` : null },
      });
      if (n === 2 && cuts > 0) {
        cuts--;
        // No length and no chunks: the body ends when the connection does, here before "meta".
        req.socket.end(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${body.slice(0, body.indexOf('"meta"'))}`,
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    const file = await pipelineFile(
      [
        `url: ${server.origin}/v1/feed`,
        'pagination: { type: cursor, field: meta.next }',
        'retry: { attempts: 2, baseDelay: 10ms }',
      ],
      '{ type: json, path: items, columns: [id, name] }',
    );

    const failed = await runPipelineFile(db, file, { env: {}, home: work });
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(
      /feed\?cursor=c2: the response ends after \d+ bytes, before its JSON document does/,
    );
    expect(server.requests.map((r) => r.url)).toEqual([
      '/v1/feed',
      '/v1/feed?cursor=c2',
      '/v1/feed?cursor=c2',
    ]);
    expect((await db.query('SELECT key FROM sluice.state')).rows).toEqual([]);

    cuts = 1; // cut once: the retry gets the page whole, and pagination goes on past it
    const loaded = await runPipelineFile(db, file, { env: {}, home: work });
    expect(loaded).toMatchObject({ status: 'succeeded', filesLoaded: 3, rowsLoaded: 9 });
    expect(loaded.warnings.join('\n')).toContain('before its JSON document does');
  });

  it('reports a body that stops arriving as a read timeout', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('[{"id": 1, "name": "a"}'); // and nothing more
    });
    const file = await pipelineFile([
      `url: ${server.origin}/v1/slow`,
      'readTimeout: 300ms',
      'retry: { attempts: 1 }',
    ]);
    const run = await runPipelineFile(db, file, { env: {}, home: work });
    expect(run.status).toBe('failed');
    expect(run.error?.message).toContain('no data for 300ms (readTimeout)');
    expect(run.error?.message).not.toMatch(/ECONNRESET|aborted/);
  });

  it('keeps nothing of a dry run: no state, no file outside the run’s work folder', async () => {
    const server = await serve((req, res) => {
      const etag = '"only"';
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      sendJson(res, items(1, 4), { etag });
    });
    const file = await pipelineFile([`url: ${server.origin}/v1/items`]);
    const before = (await readdir(work, { recursive: true })).sort();
    const dry = await runPipelineFile(db, file, { env: {}, home: work, dryRun: true });
    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, filesLoaded: 1, rowsLoaded: 4 });
    const after = (await readdir(work, { recursive: true })).filter((f) => !f.startsWith('work'));
    expect(after.sort()).toEqual(before.filter((f) => !f.startsWith('work')));
    expect(await readdir(path.join(work, 'work'))).toEqual([]);
    expect((await db.query('SELECT key FROM sluice.state')).rows).toEqual([]);

    const real = await runPipelineFile(db, file, { env: {}, home: work });
    expect(real).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 4 });
    expect(server.requests.map((r) => r.headers['if-none-match'])).toEqual([undefined, undefined]);
  });
});
