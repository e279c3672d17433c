import { readFile, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { notifySchema, type NotifySpec } from '../../src/core/notify-spec.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { parsePipeline, type PipelineSpec } from '../../src/core/spec.js';
import { sendRunNotices } from '../../src/notify/send-notices.js';
import { createRegistry } from '../../src/plugins/index.js';
import { runPipeline, type RunSummary } from '../../src/runner/run-pipeline.js';
import type { Database } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { tempDir, VISITS_PIPELINE } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';
import { visitsFile } from '../helpers/visits-fixtures.js';
import { csvRecords } from '../helpers/csv-records.js';
import { memoryLogger, startMailServer, type MailServer } from '../helpers/mail-server.js';
import { writeSelfSignedCertificate } from '../helpers/self-signed.js';

const FAST: RetryPolicy = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

let store: TestStore;
let db: Database;
let home: string;
let inbox: string;
let smtp: MailServer;

beforeAll(async () => {
  smtp = await startMailServer();
});
afterAll(async () => {
  await smtp?.stop();
});

beforeEach(async () => {
  store = await createTestStore();
  ({ db, home } = store);
  inbox = path.join(home, 'inbox');
  await mkdir(inbox, { recursive: true });
  smtp.received.length = 0;
});

afterEach(async () => {
  await store.close();
});

const visitsEnv = (extra: Record<string, string> = {}) => ({
  VISITS_SOURCE: inbox,
  VISITS_BACKUP_DIR: path.join(home, 'backup'),
  ...extra,
});

/** Reads a pipeline file with the given environment and runs it once; returns the spec too. */
async function run(
  file: string,
  env: Record<string, string>,
): Promise<{ spec: PipelineSpec; summary: RunSummary }> {
  const registry = createRegistry();
  const spec = parsePipeline(await readFile(file, 'utf8'), { file, env, registry });
  const summary = await runPipeline({ db, spec, registry, home, asOf: '2026-11-27' });
  return { spec, summary };
}

const mailEnv = (port: number) => ({
  VISITS_SMTP_HOST: '127.0.0.1',
  VISITS_SMTP_PORT: String(port),
  VISITS_SMTP_SECURITY: 'none',
  VISITS_NOTIFY_FROM: 'etl@example.com',
  VISITS_NOTIFY_TO: 'ops@example.com',
});

/** Two report files with 25 broken rows between them (and a few good ones). */
async function writeReportsWithRejects() {
  const bad = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) => ({ email: `bad-${from + i}`, sent: '01/11/2026 10:00' }));
  await writeFile(
    path.join(inbox, 'report_1.txt'),
    visitsFile([{ email: 'ana@example.com', sent: '01/11/2026 10:00' }, ...bad(15, 1)]),
  );
  await writeFile(
    path.join(inbox, 'report_2.txt'),
    visitsFile([
      ...bad(9, 16),
      'short,"quoted, with comma",row', // field count: its raw line holds a comma and quotes
      { email: 'luis@example.com', sent: '02/11/2026 10:00' },
    ]),
  );
}

describe('run notices', () => {
  it('mails the rejects of a visits run: summary, first 20 inline, all of them as CSV', async () => {
    await writeReportsWithRejects();
    const { spec, summary } = await run(VISITS_PIPELINE, visitsEnv(mailEnv(smtp.port)));
    expect(summary).toMatchObject({ status: 'succeeded', rowsRejected: 25 });
    const logger = memoryLogger();
    const results = await sendRunNotices(db, spec, summary, { logger, retry: FAST });
    expect(results).toEqual([{ channel: 'email', reason: 'rejects', sent: true, attempts: 1 }]);

    const [mail] = await smtp.next();
    expect(mail!.subject).toBe('[sluice] visits: 25 rows rejected in 2 files');
    expect(mail!.from?.text).toBe('etl@example.com');
    expect(mail!.text).toContain(`Run:      ${summary.runId}`);
    expect(mail!.text).toContain('The first 20 of 25 rejects');
    const inline = mail!.text!.split('\n').filter((l) => /^ {2}report_\d\.txt:\d+ /.test(l));
    expect(inline).toHaveLength(20);
    // By file and line, as `sluice rejects` lists them: report_1 lines 3-17, then report_2 lines 2-6.
    expect(inline[0]).toBe('  report_1.txt:3 email (email) "bad-1": not a valid e-mail address');
    expect(inline[19]).toBe('  report_2.txt:6 email (email) "bad-20": not a valid e-mail address');
    expect(mail!.html).toContain('<table border="1"');
    expect(mail!.html).toContain('<td>bad-1</td>');

    expect(mail!.attachments).toHaveLength(1);
    const csv = mail!.attachments[0]!;
    expect(csv.filename).toBe(`rejects-${summary.runId}.csv`);
    expect(csv.contentType).toBe('text/csv');
    const records = csvRecords(csv.content.toString('utf8'));
    expect(records[0]).toEqual(['file', 'line', 'column', 'rule', 'value', 'message', 'raw']);
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM sluice.rejects WHERE run_id = $1',
      [summary.runId],
    );
    expect(records.length - 1).toBe(rows[0]!.n);
    expect(records.length - 1).toBe(25);
    expect(records.find((r) => r[3] === 'fieldCount')).toEqual([
      'report_2.txt',
      '11',
      '',
      'fieldCount',
      '',
      expect.any(String),
      'short,"quoted, with comma",row',
    ]);
  });

  it('mails a failure notice with the error text', async () => {
    const file = path.join(home, 'failing.yaml');
    await writeFile(
      file,
      `name: failing
source: { url: ${inbox}, glob: '*.csv' }
parse: { type: csv }
load:
  type: postgres
  table: t
  setup: CREATE TABLE IF NOT EXISTS t (a text)
  afterRun: INSERT INTO no_such_table VALUES (1)
notify:
  on: [failure]
  email: { host: 127.0.0.1, port: ${smtp.port}, security: none, from: etl@example.com, to: [ops@example.com, dba@example.com] }
`,
    );
    await writeFile(path.join(inbox, 'a.csv'), 'a\n1\n');
    const { spec, summary } = await run(file, {});
    expect(summary.status).toBe('failed');
    const results = await sendRunNotices(db, spec, summary, { logger: memoryLogger(), retry: FAST });
    expect(results).toMatchObject([{ channel: 'email', reason: 'failure', sent: true }]);
    const [mail] = await smtp.next();
    expect(mail!.subject).toBe('[sluice] failing failed');
    expect(mail!.text).toContain('Status:   failed');
    expect(mail!.text).toMatch(/Error: +\w+: .*no_such_table/);
    expect(mail!.html).toContain('no_such_table');
    expect(mail!.attachments).toHaveLength(0); // no rejects: nothing to attach
    expect((mail!.to as { text: string }).text).toBe('ops@example.com, dba@example.com');
  });

  it('posts JSON with a Slack-compatible text to a webhook', async () => {
    await writeReportsWithRejects();
    const { summary } = await run(VISITS_PIPELINE, visitsEnv());
    const bodies: { headers: http.IncomingHttpHeaders; body: unknown }[] = [];
    let calls = 0;
    const server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (d: Buffer) => (data += d.toString()));
      req.on('end', () => {
        // The first try fails: the notice is retried.
        if (++calls === 1) return void res.writeHead(503).end();
        bodies.push({ headers: req.headers, body: JSON.parse(data) });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const notify: NotifySpec = notifySchema.parse({
        webhook: {
          url: `http://127.0.0.1:${port}/hooks/secret-token`,
          headers: { authorization: 'Bearer t' },
        },
      });
      const logger = memoryLogger();
      const results = await sendRunNotices(db, { name: 'visits', notify }, summary, { logger, retry: FAST });
      expect(results).toEqual([{ channel: 'webhook', reason: 'rejects', sent: true, attempts: 2 }]);
      expect(bodies).toHaveLength(1);
      expect(bodies[0]!.headers.authorization).toBe('Bearer t');
      const body = bodies[0]!.body as {
        text: string;
        summary: { runId: string; rowsRejected: number };
        rejects: { file: string; line: number }[];
      };
      expect(body.text).toContain('*[sluice] visits: 25 rows rejected in 2 files*');
      expect(body.summary).toMatchObject({ runId: summary.runId, rowsRejected: 25 });
      expect(body.rejects).toHaveLength(20);
      expect(body.rejects[0]).toMatchObject({ file: 'report_1.txt', line: 3 });
      expect(logger.lines.join('\n')).not.toContain('secret-token');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('never fails when the SMTP server cannot be reached: logged, retried, reported', async () => {
    await writeReportsWithRejects();
    const closed = await freePort();
    const env = visitsEnv({
      ...mailEnv(closed),
      VISITS_SMTP_USERNAME: 'etl',
      VISITS_SMTP_PASSWORD: 'hunter2-very-secret',
    });
    const { spec, summary } = await run(VISITS_PIPELINE, env);
    expect(summary.status).toBe('succeeded');
    const logger = memoryLogger();
    const results = await sendRunNotices(db, spec, summary, { logger, retry: FAST });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ channel: 'email', sent: false, attempts: 3 });
    expect(results[0]!.error).toMatch(/ECONNREFUSED|connect/i);
    expect(logger.lines.filter((l) => l.startsWith('warn:'))).toHaveLength(2);
    expect(logger.lines.filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(logger.lines.join('\n')).not.toContain('hunter2');
  });

  it('sends nothing for a run without rejects', async () => {
    await writeFile(
      path.join(inbox, 'report_1.txt'),
      visitsFile([{ email: 'ana@example.com', sent: '01/11/2026 10:00' }]),
    );
    const { spec, summary } = await run(VISITS_PIPELINE, visitsEnv(mailEnv(smtp.port)));
    expect(summary).toMatchObject({ status: 'succeeded', rowsRejected: 0, filesRejected: 0 });
    expect(await sendRunNotices(db, spec, summary, { logger: memoryLogger(), retry: FAST })).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(smtp.received).toHaveLength(0);
  });

  it('sends nothing when the visits pipeline has no SMTP variables set', async () => {
    await writeReportsWithRejects();
    const { spec, summary } = await run(VISITS_PIPELINE, visitsEnv());
    expect(spec.notify?.email).toBeUndefined();
    expect(summary.rowsRejected).toBe(25);
    expect(await sendRunNotices(db, spec, summary, { logger: memoryLogger() })).toEqual([]);
  });

  it('is sent by `sluice run`, which keeps the exit code of the run', async () => {
    await writeReportsWithRejects();
    const ok = await runCli(['run', VISITS_PIPELINE, '--as-of', '2026-11-27'], {
      ...store.env,
      ...visitsEnv(mailEnv(smtp.port)),
    });
    expect(ok.code, ok.stderr).toBe(0);
    const [mail] = await smtp.next();
    expect(mail!.subject).toBe('[sluice] visits: 25 rows rejected in 2 files');
    expect(mail!.attachments).toHaveLength(1);

    await writeFile(path.join(inbox, 'report_3.txt'), visitsFile(['bad,row']));
    const refused = await runCli(['run', VISITS_PIPELINE, '--as-of', '2026-11-27'], {
      ...store.env,
      ...visitsEnv(mailEnv(await freePort())),
    });
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.stderr).toMatch(/error: the email notice of run .* was not sent after 3 tries/);
  });
});

describe('run notices over STARTTLS', () => {
  it('upgrades the connection and logs in', async () => {
    const dir = await tempDir();
    const files = writeSelfSignedCertificate(dir);
    const key = await readFile(files.key);
    const cert = await readFile(files.cert);
    const logins: string[] = [];
    let secured = false;
    const server = await startMailServer({
      secure: false,
      key,
      cert,
      disabledCommands: [],
      authOptional: false,
      onAuth(auth, session, callback) {
        secured = session.secure;
        logins.push(`${auth.username}:${auth.password}`);
        callback(null, { user: auth.username });
      },
    });
    try {
      await writeReportsWithRejects();
      const { summary } = await run(VISITS_PIPELINE, visitsEnv());
      const notify = notifySchema.parse({
        email: {
          host: '127.0.0.1',
          port: server.port,
          security: 'starttls',
          username: 'etl',
          password: 's3cret',
          from: 'etl@example.com',
          to: 'ops@example.com',
        },
      });
      const results = await sendRunNotices(db, { name: 'visits', notify }, summary, {
        logger: memoryLogger(),
        retry: FAST,
        smtpTls: { rejectUnauthorized: false },
      });
      expect(results).toMatchObject([{ channel: 'email', sent: true }]);
      const [mail] = await server.next();
      expect(mail!.attachments).toHaveLength(1);
      expect(logins).toEqual(['etl:s3cret']);
      expect(secured).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
