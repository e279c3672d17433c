import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import type { FileSourceSession, PluginContext, SourceFile } from '../../src/core/plugin.js';
import { imapSource } from '../../src/plugins/sources/imap-source.js';
import { openStore } from '../../src/store/connect.js';
import { startImapServer, type ImapServer } from '../helpers/dovecot.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { composeMail } from '../helpers/mail-message.js';
import { runPipelineFile, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

let server: ImapServer;
let workRoot: string;
const sessions: FileSourceSession[] = [];
const allMessages: string[] = [];

beforeAll(async () => {
  server = await startImapServer();
  workRoot = await mkdtemp(path.join(os.tmpdir(), 'sluice-imap-test-'));
});

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  // The password never reaches a log line.
  expect(allMessages.join('\n')).not.toContain(server.password);
  await server?.stop();
  if (workRoot) await rm(workRoot, { recursive: true, force: true });
});

const mail = composeMail;

async function context(): Promise<PluginContext> {
  const log = (level: string) => (message: string, data?: Record<string, unknown>) => {
    allMessages.push(`${level} ${message}${data ? ` ${JSON.stringify(data)}` : ''}`);
  };
  return {
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    signal: new AbortController().signal,
    workDir: await mkdtemp(path.join(workRoot, 'work-')),
  };
}

let cases = 0;
/** A fresh mailbox per test, with its own Processed and Error mailboxes. */
function mailboxes() {
  const box = `case${++cases}`;
  return { box, processed: `${box}-done`, error: `${box}-error` };
}

const reportRules = [{ name: 'reports', subject: 'report', attachment: '\\.(csv|xlsx)$' }];

async function open(
  box: ReturnType<typeof mailboxes>,
  extra: Record<string, unknown> = {},
  port = server.port,
): Promise<FileSourceSession> {
  const opts = imapSource.options.parse({
    url: `imap://${server.user}@127.0.0.1:${port}/${box.box}`,
    password: server.password,
    processedMailbox: box.processed,
    errorMailbox: box.error,
    rules: reportRules,
    ...extra,
  });
  const session = await imapSource.open(opts, await context());
  sessions.push(session);
  return session;
}

async function listAll(session: FileSourceSession): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for await (const f of session.list()) files.push(f);
  return files;
}

describe('imap source', () => {
  it('lists matching attachments with dated, safe names, fetches them byte-exact and moves the message only once all are settled', async () => {
    const box = mailboxes();
    const csv = 'email,visits\nana@example.com,3\n';
    const binary = randomBytes(300_000);
    await server.deliver(
      await mail({
        subject: 'Daily report',
        attachments: [
          { filename: 'data.csv', content: csv },
          { filename: 'a/b.xlsx', content: binary },
          { filename: '../../etc/passwd.csv', content: 'x\n1\n' },
          { filename: 'data.csv', content: 'second\n' },
          { filename: 'notes.txt', content: 'not taken' },
          { filename: `${'ñ'.repeat(150)}.csv`, content: 'long\n' },
        ],
      }),
      box.box,
    );

    const session = await open(box);
    const files = await listAll(session);
    expect(files.map((f) => f.name)).toEqual([
      '20261103_data.csv',
      '20261103_a_b.xlsx',
      '20261103_etc_passwd.csv',
      '20261103_data_2.csv',
      `20261103_${'ñ'.repeat(53)}.csv`,
    ]);
    for (const f of files) {
      expect(f.id).toMatch(/^\d+\/[\d.]+$/);
      expect(Buffer.byteLength(f.name)).toBeLessThanOrEqual(120);
    }

    const fetched = [];
    for (const f of files) fetched.push(await session.fetch(f));
    expect(await readFile(fetched[0]!.path, 'utf8')).toBe(csv);
    expect((await readFile(fetched[1]!.path)).equals(binary)).toBe(true);
    expect(fetched[1]!.size).toBe(binary.length);
    expect(await readFile(fetched[2]!.path, 'utf8')).toBe('x\n1\n');
    expect(await readFile(fetched[3]!.path, 'utf8')).toBe('second\n');
    expect(fetched.every((f) => f.temporary)).toBe(true);
    // No temporary `.part` is left next to a fetched file.
    expect(await readdir(path.dirname(fetched[0]!.path))).toEqual([path.basename(fetched[0]!.path)]);

    // Listed and fetched, nothing settled: the message stays.
    expect(await server.list(box.box)).toEqual(['Daily report']);
    expect(await server.list(box.processed)).toEqual([]);

    for (const f of files.slice(0, -1)) await session.settle(f, 'loaded');
    expect(await server.list(box.box)).toEqual(['Daily report']);
    expect(await server.list(box.processed)).toEqual([]);

    await session.settle(files.at(-1)!, 'skipped');
    expect(await server.list(box.box)).toEqual([]);
    expect(await server.list(box.processed)).toEqual(['Daily report']);

    // A later listing (same session or a new one) sees nothing.
    expect(await listAll(session)).toEqual([]);
    expect(await listAll(await open(box))).toEqual([]);
  });

  it('moves a message that matches no rule to Error during the listing, and the first rule by priority wins', async () => {
    const box = mailboxes();
    await server.deliver(await mail({ subject: 'Lunch on Friday?' }), box.box);
    await server.deliver(
      await mail({ subject: 'Weekly report', attachments: [{ filename: 'w.csv', content: 'a\n1\n' }] }),
      box.box,
    );
    await server.deliver(
      await mail({
        subject: 'report from a stranger',
        from: 'mallory@evil.test',
        attachments: [{ filename: 'x.csv', content: 'a\n1\n' }],
      }),
      box.box,
    );
    await server.deliver(
      await mail({
        subject: 'Sales report',
        attachments: [
          { filename: 's.csv', content: 'a\n1\n' },
          { filename: 's.xlsx', content: 'not really xlsx' },
        ],
      }),
      box.box,
    );

    const rules = [
      { name: 'csv', subject: 'report', sender: '@example\\.com>$', attachment: '\\.csv$', priority: 10 },
      { name: 'sales-xlsx', subject: '^sales', attachment: '\\.xlsx$', priority: 1 },
    ];
    const session = await open(box, { rules });
    const files = await listAll(session);
    // Sales report: the priority-1 rule wins, so only its .xlsx is taken.
    expect(files.map((f) => f.name)).toEqual(['20261103_w.csv', '20261103_s.xlsx']);
    expect((await server.list(box.error)).sort()).toEqual(['Lunch on Friday?', 'report from a stranger']);
    expect(await server.list(box.box)).toEqual(['Weekly report', 'Sales report']);

    // Matched messages never go to Error, even when not settled; a new listing shows them again.
    await session.close();
    const again = await listAll(await open(box, { rules }));
    expect(again.map((f) => f.name)).toEqual(['20261103_w.csv', '20261103_s.xlsx']);
    expect((await server.list(box.error)).length).toBe(2);
  });

  it('moves nothing when the connection drops during a fetch; the next session finishes the job', async () => {
    const box = mailboxes();
    const big = randomBytes(2_000_000);
    await server.deliver(
      await mail({
        subject: 'Big report',
        attachments: [
          { filename: 'big.xlsx', content: big },
          { filename: 'small.csv', content: 'a\n1\n' },
        ],
      }),
      box.box,
    );
    const proxy = await startProxy(server.port);
    try {
      const session = await open(box, {}, proxy.port);
      const files = await listAll(session);
      expect(files.map((f) => f.name)).toEqual(['20261103_big.xlsx', '20261103_small.csv']);
      await session.settle(files[1]!, 'loaded'); // one file done, the other not
      proxy.cutAfter(200_000);
      const error = await session.fetch(files[0]!).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SluiceError);
      expect(error).toMatchObject({ code: 'SOURCE_UNREACHABLE', retryable: true });
    } finally {
      await proxy.stop();
    }
    expect(await server.list(box.box)).toEqual(['Big report']);
    expect(await server.list(box.processed)).toEqual([]);

    const session = await open(box);
    const files = await listAll(session);
    expect(files.map((f) => f.name)).toEqual(['20261103_big.xlsx', '20261103_small.csv']);
    const fetched = await session.fetch(files[0]!);
    expect((await readFile(fetched.path)).equals(big)).toBe(true);
    for (const f of files) await session.settle(f, 'loaded');
    expect(await server.list(box.box)).toEqual([]);
    expect(await server.list(box.processed)).toEqual(['Big report']);
  });

  it('refuses a wrong password with SOURCE_AUTH and does not echo it', async () => {
    const box = mailboxes();
    const error = await open(box, { password: 'Wrong-Password-77' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SOURCE_AUTH' });
    expect(String((error as Error).message)).not.toContain('Wrong-Password-77');
  });

  it('validates the options', () => {
    const base = { url: 'imap://u@h/INBOX', password: 'p', rules: reportRules };
    expect(imapSource.options.safeParse(base).success).toBe(true);
    expect(imapSource.options.safeParse({ ...base, rules: [] }).success).toBe(false);
    expect(imapSource.options.safeParse({ ...base, rules: [{ name: 'bad', subject: '(' }] }).success).toBe(
      false,
    );
    expect(imapSource.options.safeParse({ ...base, url: 'imap://u:secret@h/INBOX' }).success).toBe(false);
    expect(imapSource.options.safeParse({ ...base, url: 'imap://h/INBOX' }).success).toBe(false);
    expect(imapSource.schemes).toEqual(['imap', 'imaps']);
  });
});

describe('imap source over TLS', () => {
  let tlsServer: ImapServer;
  beforeAll(async () => {
    tlsServer = await startImapServer({ tls: true });
  });
  afterAll(async () => {
    await tlsServer?.stop();
  });

  async function openTls(url: string, extra: Record<string, unknown> = {}) {
    const box = mailboxes();
    await tlsServer.deliver(
      await mail({ subject: 'TLS report', attachments: [{ filename: 't.csv', content: 'a\n1\n' }] }),
      box.box,
    );
    const opts = imapSource.options.parse({
      url: `${url}/${box.box}`,
      password: tlsServer.password,
      rules: reportRules,
      ...extra,
    });
    const session = await imapSource.open(opts, await context());
    sessions.push(session);
    return session;
  }

  it('upgrades with STARTTLS, and implicit TLS with imaps://, when the certificate is accepted', async () => {
    const starttls = await openTls(`imap://${tlsServer.user}@127.0.0.1:${tlsServer.port}`, {
      security: 'starttls',
      allowSelfSigned: true,
    });
    expect((await listAll(starttls)).map((f) => f.name)).toEqual(['20261103_t.csv']);
    const imaps = await openTls(`imaps://${tlsServer.user}@127.0.0.1:${tlsServer.imapsPort}`, {
      allowSelfSigned: true,
    });
    expect(imaps.location).toMatch(/^imaps:\/\//);
    expect((await listAll(imaps)).map((f) => f.name)).toEqual(['20261103_t.csv']);
  });

  it('refuses a self-signed certificate by default', async () => {
    const error = await openTls(`imaps://${tlsServer.user}@127.0.0.1:${tlsServer.imapsPort}`).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'SOURCE_AUTH' });
    expect((error as Error).message).toMatch(/certificate/i);
  });
});

describe('imap source in a whole pipeline', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('loads a CSV attachment into PostgreSQL and leaves the message in Processed', async () => {
    const box = mailboxes();
    await server.deliver(
      await mail({
        subject: 'Visits report',
        attachments: [
          { filename: 'visits.csv', content: 'email,visits\nana@example.com,3\nbob@example.com,5\n' },
        ],
      }),
      box.box,
    );
    await server.deliver(await mail({ subject: 'Newsletter' }), box.box);
    const home = await tempDir();
    const pipeline = path.join(home, 'pipeline.yaml');
    await writeFile(
      pipeline,
      [
        'name: imap_visits',
        'source:',
        '  type: imap',
        '  url: ${IMAP_URL}',
        '  password: ${IMAP_PASSWORD}',
        `  processedMailbox: ${box.processed}`,
        `  errorMailbox: ${box.error}`,
        '  rules:',
        "    - { name: visits, subject: 'visits report', attachment: '\\.csv$' }",
        "parse: { type: csv, delimiter: ',' }",
        'check:',
        '  columns:',
        '    visits: { integer: { min: 0 } }',
        'load: { type: postgres, table: visits }',
        '',
      ].join('\n'),
    );
    const env = { IMAP_URL: server.url(box.box), IMAP_PASSWORD: server.password };
    const db = await openStore({ databaseUrl: testDb.url, home });
    try {
      const summary = await runPipelineFile(db, pipeline, { env, home, asOf: '2026-11-27' });
      expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 2 });
      expect((await db.query('SELECT email, visits::int AS visits FROM visits ORDER BY email')).rows).toEqual(
        [
          { email: 'ana@example.com', visits: 3 },
          { email: 'bob@example.com', visits: 5 },
        ],
      );
      expect(await server.list(box.box)).toEqual([]);
      expect(await server.list(box.processed)).toEqual(['Visits report']);
      expect(await server.list(box.error)).toEqual(['Newsletter']);

      // A rerun finds nothing new and loads nothing twice.
      const again = await runPipelineFile(db, pipeline, { env, home, asOf: '2026-11-27' });
      expect(again).toMatchObject({ status: 'succeeded', filesLoaded: 0, rowsLoaded: 0 });
      expect((await db.query('SELECT count(*)::int AS n FROM visits')).rows).toEqual([{ n: 2 }]);
    } finally {
      await db.close();
    }
  });
});
