import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { notifySchema } from '../../src/core/notify-spec.js';
import { sendRunNotices } from '../../src/notify/send-notices.js';
import { emptyRunSummary, type RunSummary } from '../../src/core/run-summary.js';
import type { Database } from '../../src/store/database.js';
import type { LogEntry } from '../../src/store/step-log.js';
import { sendJson, startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { memoryLogger, startMailServer } from '../helpers/mail-server.js';
import { runPipelineFile } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// Secrets with the characters each encoder writes its own way: `~` (kept by encodeURIComponent, %7E in a
// form), a space (%20 or +), `!'()` (kept by encodeURIComponent, escaped in a form).
const API_KEY = "k~ey with space!'(x)";
const PASSWORD = "pa ss~!'(y)";

/** The ways a secret may be written in a URL or a message. */
function forms(secret: string): string[] {
  const out = new Set([
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ k: secret }).toString().slice(2),
    new URL(`http://x/?k=${secret}`).search.slice(3), // the URL parser's own escaping of a query
    Buffer.from(secret).toString('base64'),
  ]);
  for (const form of [...out]) out.add(form.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()));
  return [...out];
}

function expectMasked(texts: string[], secret: string) {
  for (const text of texts) for (const form of forms(secret)) expect(text, form).not.toContain(form);
}

let store: TestStore;
let db: Database;
let home: string;
let servers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  store = await createTestStore({ prefix: 'sluice-secrets-' });
  ({ db, home } = store);
});

afterAll(async () => {
  await store?.close();
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

/** Runs a pipeline file (verbose) and gathers every text a user or an operator may read about the run. */
async function runAndCollect(name: string, lines: string[], env: Record<string, string>) {
  const file = path.join(home, `${name}.yaml`);
  await writeFile(file, `${lines.join('\n')}\n`);
  const entries: LogEntry[] = [];
  const summary: RunSummary = await runPipelineFile(db, file, {
    env,
    home,
    verbose: true,
    onLog: (e) => entries.push(e),
  });
  const { rows: runs } = await db.query<{ error: string | null }>(
    'SELECT error FROM sluice.runs WHERE id = $1',
    [summary.runId],
  );
  const { rows: logs } = await db.query<{ message: string; data: unknown }>(
    'SELECT message, data FROM sluice.logs WHERE run_id = $1',
    [summary.runId],
  );
  const texts = [
    ...entries.map((e) => `${e.message} ${JSON.stringify(e.data ?? {})}`),
    ...logs.map((l) => `${l.message} ${JSON.stringify(l.data ?? {})}`),
    runs[0]?.error ?? '',
    summary.error?.message ?? '',
    ...summary.warnings,
  ];
  return { summary, texts, runError: runs[0]?.error ?? '' };
}

describe('secrets are masked however they are encoded', () => {
  it('http: an API key in the query, in verbose logs, the run error and the failure message', async () => {
    const server = await serve((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.searchParams.get('key') !== API_KEY) {
        res.writeHead(401);
        res.end('wrong key');
        return;
      }
      if (url.pathname === '/v1/items') {
        sendJson(res, [{ id: 1 }], { link: `</v1/items/2?key=${encodeURIComponent(API_KEY)}>; rel="next"` });
        return;
      }
      // An API that echoes the request in its error, as sent and decoded.
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`bad request ${req.url} for key ${API_KEY} (${encodeURIComponent(API_KEY).toLowerCase()})`);
    });
    const { summary, texts, runError } = await runAndCollect(
      'http-key',
      [
        'name: http_key',
        'source:',
        `  url: ${server.origin}/v1/items`,
        '  auth: { type: apiKey, name: key, in: query, value: "${API_KEY}" }',
        '  pagination: { type: link }',
        'parse: { type: json, columns: [id] }',
        'load: { type: postgres, table: keyed }',
      ],
      { API_KEY },
    );
    expect(server.requests.map((r) => new URL(r.url, 'http://x').searchParams.get('key'))).toEqual([
      API_KEY,
      API_KEY,
    ]);
    expect(summary.status).toBe('failed');
    expect(runError).toMatch(
      /GET .*\/v1\/items\/2\?key=\*\*\* answered 400: bad request .* for key \*\*\* \(\*\*\*\)/,
    );
    expect(texts.some((t) => t.includes('GET') && t.includes('key=***'))).toBe(true); // the verbose lines
    expectMasked(texts, API_KEY);
  });

  it('http: a Basic password, and its base64 echoed by the server', async () => {
    const server = await serve((req, res) => {
      res.writeHead(401);
      res.end(`refused ${req.headers.authorization ?? ''} for password ${PASSWORD}`);
    });
    const { summary, texts, runError } = await runAndCollect(
      'http-basic',
      [
        'name: http_basic',
        'source:',
        `  url: ${server.origin}/v1/basic`,
        '  auth: { type: basic, username: etl, password: "${API_PASSWORD}" }',
        'parse: { type: json }',
        'load: { type: postgres, table: basic_rows }',
      ],
      { API_PASSWORD: PASSWORD },
    );
    expect(summary.status).toBe('failed');
    expect(runError).toContain('answered 401: refused Basic *** for password ***');
    expectMasked(texts, PASSWORD);
    expectMasked(texts, `etl:${PASSWORD}`);
  });

  it('scan: a key written into the URL template, in the rows, logs and errors', async () => {
    const server = await serve((req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`failed ${req.url}`);
    });
    const { summary, texts } = await runAndCollect(
      'scan-key',
      [
        'name: scan_key',
        'source:',
        '  type: scan',
        `  urlTemplate: "${server.origin}/event/{id}?api_key=\${SCAN_KEY}"`,
        '  ids: [1]',
        '  delay: 0s',
        '  retry: { attempts: 1 }',
        'load: { type: postgres, table: scan_rows }',
      ],
      { SCAN_KEY: API_KEY },
    );
    expect(summary.status).toBe('succeeded');
    const { rows } = await db.query<{ url: string; error: string }>('SELECT url, error FROM scan_rows');
    expect(rows).toEqual([
      { url: `${server.origin}/event/1?api_key=***`, error: expect.stringContaining('500') },
    ]);
    expectMasked([...texts, ...rows.flatMap((r) => [r.url, r.error])], API_KEY);
  });

  it('notices: an SMTP password echoed by the server, raw and as AUTH PLAIN', async () => {
    const smtp = await startMailServer({
      authOptional: false,
      onAuth(auth, _session, callback) {
        const plain = Buffer.from(`\0${auth.username}\0${auth.password ?? ''}`).toString('base64');
        callback(new Error(`no entry for ${auth.password ?? ''} (${plain})`));
      },
    });
    servers.push({ close: () => smtp.stop() });
    const notify = notifySchema.parse({
      email: {
        host: '127.0.0.1',
        port: smtp.port,
        security: 'none',
        username: 'etl',
        password: PASSWORD,
        from: 'etl@example.com',
        to: 'ops@example.com',
      },
    });
    const logger = memoryLogger();
    const summary: RunSummary = {
      ...emptyRunSummary('00000000-0000-4000-8000-000000000001', 'notice', '2026-11-27', false),
      status: 'failed',
      durationMs: 1,
      error: { code: 'INTERNAL', message: 'boom' },
    };
    const results = await sendRunNotices(db, { name: 'notice', notify }, summary, {
      logger,
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    expect(results).toMatchObject([{ channel: 'email', sent: false }]);
    expect(logger.lines.join('\n')).toContain('no entry for ***');
    expectMasked([...logger.lines, ...results.map((r) => r.error ?? '')], PASSWORD);
    expectMasked(logger.lines, `\0etl\0${PASSWORD}`);
  });
});
