import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import { openMailbox } from '../../src/plugins/sources/imap/connection.js';
import { feedInbox } from '../../src/plugins/sources/imap/poller.js';
import { compileRules } from '../../src/plugins/sources/imap/rules.js';
import { imapSource } from '../../src/plugins/sources/imap-source.js';
import { createMailStore, lastSuccessfulPolls, saveInbox } from '../../src/store/mail-store.js';
import { runCli } from '../helpers/cli.js';
import { startImapServer, type ImapServer } from '../helpers/dovecot.js';
import { composeMail } from '../helpers/mail-message.js';
import { runPipelineFile, tempDir } from '../helpers/pipeline-harness.js';
import { memoryLogger } from '../helpers/mail-server.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';
import { randomBytes } from 'node:crypto';

let server: ImapServer;
let store: TestStore;
let db: Database;
let home: string;

beforeAll(async () => {
  server = await startImapServer();
  store = await createTestStore();
  ({ db, home } = store);
});

afterAll(async () => {
  await store?.close();
  await server?.stop();
});

let cases = 0;
function mailboxes() {
  const box = `inbox${++cases}`;
  return { box, processed: `${box}-done`, error: `${box}-error` };
}

const cli = (args: string[], extra: Record<string, string> = {}) =>
  runCli(args, { ...store.env, IMAP_PASSWORD: server.password, ...extra });

const VISITS_CSV = 'email,visits\nana@example.com,3\nbob@example.com,5\n';

describe('imap source as a pipeline: Message-ID ledger, .eml kept, rules from the table', () => {
  it('keeps the .eml in the rule folder, records the message, and never handles it twice even when it is back in the inbox', async () => {
    const box = mailboxes();
    const folder = path.join(home, 'eml-kept');
    const raw = await composeMail({
      subject: 'Visits report',
      messageId: '<visits-1@example.com>',
      attachments: [{ filename: 'visits.csv', content: VISITS_CSV }],
    });
    await server.deliver(raw, box.box);
    const pipeline = path.join(home, 'ledger.yaml');
    await writeFile(
      pipeline,
      [
        'name: imap_ledger',
        'source:',
        '  type: imap',
        '  url: ${IMAP_URL}',
        '  password: ${IMAP_PASSWORD}',
        '  account: visits-box',
        `  processedMailbox: ${box.processed}`,
        `  errorMailbox: ${box.error}`,
        '  rules:',
        `    - { name: visits, subject: 'visits report', attachment: '\\.csv$', targetFolder: '${folder}' }`,
        "parse: { type: csv, delimiter: ',' }",
        'load: { type: postgres, table: ledger_visits }',
        '',
      ].join('\n'),
    );
    const env = { IMAP_URL: server.url(box.box), IMAP_PASSWORD: server.password };
    const first = await runPipelineFile(db, pipeline, { env, home, asOf: '2026-11-27' });
    expect(first).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 2 });
    expect(await server.list(box.processed)).toEqual(['Visits report']);
    // The raw message, byte for byte, beside nothing else (the attachment went to the parser).
    expect(await readdir(folder)).toEqual(['20261103_Visits report.eml']);
    expect((await readFile(path.join(folder, '20261103_Visits report.eml'))).toString()).toBe(
      raw.toString().replace(/\r?\n/g, '\r\n'),
    );
    const { rows } = await db.query(
      'SELECT account, message_id, mailbox, subject, rule, files FROM sluice.mail_messages',
    );
    expect(rows).toEqual([
      {
        account: 'visits-box',
        message_id: '<visits-1@example.com>',
        mailbox: box.box,
        subject: 'Visits report',
        rule: 'visits',
        files: ['20261103_visits.csv', '20261103_Visits report.eml'],
      },
    ]);
    const polls = await db.query<{ last_success_at: string | null }>(
      "SELECT last_success_at FROM sluice.mail_polls WHERE account = 'visits-box'",
    );
    expect(polls.rows[0]?.last_success_at).not.toBeNull();

    // The same message is back in the inbox (same Message-ID): it is moved on untouched, not even fetched.
    await server.deliver(raw, box.box);
    const again = await runPipelineFile(db, pipeline, { env, home, asOf: '2026-11-27' });
    expect(again).toMatchObject({ status: 'succeeded', filesLoaded: 0, filesSkipped: 0, rowsLoaded: 0 });
    expect(await server.list(box.box)).toEqual([]);
    expect(await server.list(box.processed)).toEqual(['Visits report', 'Visits report']);
    expect(await readdir(folder)).toEqual(['20261103_Visits report.eml']);
    expect((await db.query('SELECT count(*)::int AS n FROM ledger_visits')).rows).toEqual([{ n: 2 }]);
  });

  it('takes its rules from sluice.inbox_rules with rules: table, and skips inactive ones', async () => {
    const box = mailboxes();
    await server.deliver(
      await composeMail({
        subject: 'Sales figures',
        attachments: [{ filename: 's.csv', content: 'a\n1\n' }],
      }),
      box.box,
    );
    await server.deliver(
      await composeMail({
        subject: 'Visits report',
        attachments: [{ filename: 'v.csv', content: 'a\n2\n' }],
      }),
      box.box,
    );
    await saveInbox(
      db,
      [],
      [
        {
          name: 'sales',
          account: 'table-box',
          subject: '^sales',
          attachment: '\\.csv$',
          priority: 1,
          active: true,
        },
        { name: 'visits-off', account: 'table-box', subject: 'visits', priority: 2, active: false },
        { name: 'other-account', account: 'elsewhere', subject: 'visits', priority: 1, active: true },
      ],
    );
    const pipeline = path.join(home, 'table.yaml');
    await writeFile(
      pipeline,
      [
        'name: imap_table',
        'source:',
        '  type: imap',
        '  url: ${IMAP_URL}',
        '  password: ${IMAP_PASSWORD}',
        '  account: table-box',
        '  rules: table',
        `  processedMailbox: ${box.processed}`,
        `  errorMailbox: ${box.error}`,
        "parse: { type: csv, delimiter: ',' }",
        'load: { type: postgres, table: table_rules }',
        '',
      ].join('\n'),
    );
    const env = { IMAP_URL: server.url(box.box), IMAP_PASSWORD: server.password };
    const summary = await runPipelineFile(db, pipeline, { env, home, asOf: '2026-11-27' });
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 1 });
    expect(summary.files.map((f) => f.name)).toEqual(['20261103_s.csv']);
    expect(await server.list(box.processed)).toEqual(['Sales figures']);
    expect(await server.list(box.error)).toEqual(['Visits report']);
  });
});

describe('sluice inbox: load, list, status, disable, and poll as a feeder of folders', () => {
  it('refuses a bad inbox file naming file:line:col and the key path', async () => {
    const file = path.join(home, 'bad-inbox.yaml');
    await writeFile(
      file,
      [
        'accounts:',
        '  - name: main',
        '    url: imap://etl@127.0.0.1/INBOX',
        '    password: x',
        'rules:',
        '  - name: broken',
        '    account: main',
        "    subject: '(unclosed'",
        '    targetFolder: /tmp/x',
        '  - name: nofolder',
        '    account: main',
        '',
      ].join('\n'),
    );
    const result = await cli(['inbox', 'load', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`sluice: ${file}: the inbox file is invalid (2 problems):\n`);
    expect(result.stderr).toContain(`\n  8:14 rules[0].subject: not a valid regular expression`);
    expect(result.stderr).toMatch(/\n {2}10:\d+ rules\[1\]\.targetFolder: /);

    const missing = path.join(home, 'env-inbox.yaml');
    await writeFile(
      missing,
      'accounts:\n  - name: main\n    url: imap://etl@127.0.0.1/INBOX\n    password: ${NOT_SET_ANYWHERE}\n',
    );
    const env = await cli(['inbox', 'load', missing]);
    expect(env.code).toBe(2);
    expect(env.stderr).toContain(
      `sluice: ${missing}:4:15: accounts[0].password: environment variable NOT_SET_ANYWHERE is not set`,
    );
  });

  it('writes attachments and the .eml into the rule folder under dated, safe names, then moves; a rerun handles nothing twice', async () => {
    const box = mailboxes();
    const target = path.join(home, 'watched', 'reports');
    const other = path.join(home, 'watched', 'hostile');
    await mkdir(target, { recursive: true });
    // A file of that name is already in the folder: it is never replaced.
    await writeFile(path.join(target, '20261103_data.csv'), 'older file\n');
    const report = await composeMail({
      subject: 'Daily report',
      messageId: '<daily-1@example.com>',
      attachments: [
        { filename: 'data.csv', content: 'email,visits\nana@example.com,3\n' },
        { filename: 'notes.txt', content: 'not taken' },
      ],
    });
    const hostileNames = ['../../etc/passwd', 'a/b.xlsx', `${'x'.repeat(296)}.csv`, 'résumé 日本 ✓.csv', ''];
    // nodemailer names a nameless attachment itself: the empty name is put back by hand.
    const hostile = (
      await composeMail({
        subject: 'Hostile names',
        from: 'Mallory <mallory@partner.example>',
        date: new Date('2026-12-24T23:30:00Z'),
        messageId: '<hostile-1@example.com>',
        attachments: hostileNames.map((filename, i) => ({ filename, content: `file ${i}\n` })),
      })
    )
      .toString()
      .replace(/(file)?name=attachment-\d+\.\*/g, '$1name=""');
    await server.deliver(report, box.box);
    await server.deliver(hostile, box.box);
    await server.deliver(await composeMail({ subject: 'Lunch?' }), box.box);

    const file = path.join(home, 'inbox.yaml');
    await writeFile(
      file,
      [
        'accounts:',
        '  - name: feeder',
        `    url: imap://${server.user}@127.0.0.1:${server.port}/${box.box}`,
        '    password: ${IMAP_PASSWORD}',
        `    processedMailbox: ${box.processed}`,
        `    errorMailbox: ${box.error}`,
        'rules:',
        '  - name: daily',
        '    account: feeder',
        "    subject: 'report'",
        "    sender: '@example\\.com>$'",
        "    attachment: '\\.csv$'",
        '    targetFolder: watched/reports',
        '    priority: 10',
        '  - name: partner',
        '    account: feeder',
        "    sender: 'partner\\.example'",
        '    hasAttachment: true',
        `    targetFolder: ${other}`,
        '',
      ].join('\n'),
    );
    const load = await cli(['inbox', 'load', file]);
    expect(load.stderr).toBe('');
    expect(load.stdout).toBe('loaded 1 account: feeder; 2 rules: daily, partner\n');
    // The password stays a reference in the table.
    const saved = await db.query<{ definition: { password: string } }>(
      "SELECT definition FROM sluice.mail_accounts WHERE name = 'feeder'",
    );
    expect(saved.rows[0]?.definition.password).toBe('${IMAP_PASSWORD}');

    const list = await cli(['inbox', 'list']);
    expect(list.stdout).toMatch(
      /^daily\s+feeder\s+10 active\s+subject \/report\/, sender .* -> .*watched\/reports$/m,
    );

    const poll = await cli(['inbox', 'poll', '--account', 'feeder']);
    expect(poll.stderr).toBe('');
    expect(poll.code).toBe(0);
    expect(poll.stdout).toContain('feeder: 2 messages handled (8 files), 1 to Error, 0 handled before\n');

    // The file already there is untouched; the new one is data_2.csv; the .eml is the message itself.
    expect((await readdir(target)).sort()).toEqual([
      '20261103_Daily report.eml',
      '20261103_data.csv',
      '20261103_data_2.csv',
    ]);
    expect(await readFile(path.join(target, '20261103_data.csv'), 'utf8')).toBe('older file\n');
    expect(await readFile(path.join(target, '20261103_data_2.csv'), 'utf8')).toBe(
      'email,visits\nana@example.com,3\n',
    );
    const eml = await simpleParser(await readFile(path.join(target, '20261103_Daily report.eml')));
    expect(eml.messageId).toBe('<daily-1@example.com>');
    expect(eml.attachments.map((a) => a.filename)).toEqual(['data.csv', 'notes.txt']);

    // Hostile names: one flat, bounded, safe name each, in the folder and nowhere else.
    const written = (await readdir(other)).sort();
    expect(written).toEqual(
      [
        '20261224_Hostile names.eml',
        '20261224_etc_passwd',
        '20261224_a_b.xlsx',
        `20261224_${'x'.repeat(107)}.csv`,
        '20261224_résumé 日本 ✓.csv',
        '20261224_attachment',
      ].sort(),
    );
    for (const name of written) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(120);
      expect(name).not.toMatch(/[/\\]|\.\./);
    }
    const contents = await Promise.all(
      [
        '20261224_etc_passwd',
        '20261224_a_b.xlsx',
        `20261224_${'x'.repeat(107)}.csv`,
        '20261224_résumé 日本 ✓.csv',
        '20261224_attachment',
      ].map((n) => readFile(path.join(other, n), 'utf8')),
    );
    expect(contents).toEqual(hostileNames.map((_, i) => `file ${i}\n`));
    // No temporary file is left behind.
    expect([...(await readdir(target)), ...written].filter((n) => n.startsWith('.'))).toEqual([]);

    expect(await server.list(box.box)).toEqual([]);
    expect(await server.list(box.processed)).toEqual(['Daily report', 'Hostile names']);
    expect(await server.list(box.error)).toEqual(['Lunch?']);

    const status = await cli(['inbox', 'status', '--json']);
    const feeder = (JSON.parse(status.stdout) as { account: string; lastSuccessAt: string | null }[]).find(
      (a) => a.account === 'feeder',
    );
    expect(feeder).toMatchObject({
      saved: true,
      activeRules: 2,
      messagesHandled: 2,
      lastError: null,
      lastCounts: { handled: 2, unmatched: 1, alreadyHandled: 0, files: 8 },
    });
    expect(feeder?.lastSuccessAt).toMatch(/^\d{4}-\d\d-\d\d /);

    // Both are back in the inbox (moved back by hand): the ledger knows them; nothing is written again.
    await server.deliver(report, box.box);
    await server.deliver(hostile, box.box);
    const rerun = await cli(['inbox', 'poll']);
    expect(rerun.stdout).toContain('feeder: 0 messages handled (0 files), 0 to Error, 2 handled before\n');
    expect((await readdir(target)).length).toBe(3);
    expect((await readdir(other)).length).toBe(6);
    expect(await server.list(box.box)).toEqual([]);

    // A disabled rule is kept but not used.
    const disable = await cli(['inbox', 'disable', 'partner']);
    expect(disable.stdout).toBe('rule partner disabled\n');
    await server.deliver(
      await composeMail({
        subject: 'More',
        from: 'x@partner.example',
        attachments: [{ filename: 'm.csv', content: 'm\n' }],
      }),
      box.box,
    );
    await cli(['inbox', 'poll', '--account', 'feeder']);
    expect(await server.list(box.error)).toEqual(['Lunch?', 'More']);
    const unknown = await cli(['inbox', 'disable', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no inbox rule is named nope');
  });
});

describe('feeder mode when the connection drops', () => {
  it('leaves no file under a final name and moves nothing; the next poll finishes the job', async () => {
    const box = mailboxes();
    const folder = path.join(home, 'dropped');
    const big = randomBytes(2_000_000);
    await server.deliver(
      await composeMail({
        subject: 'Big report',
        messageId: '<big-1@example.com>',
        attachments: [
          { filename: 'small.csv', content: 'a\n1\n' },
          { filename: 'big.xlsx', content: big },
        ],
      }),
      box.box,
    );
    const store = createMailStore(db);
    const rules = compileRules([{ name: 'big', subject: 'report', priority: 1, targetFolder: folder }]);
    const logger = memoryLogger();
    const connection = (port: number) =>
      imapSource.options.parse({
        url: `imap://${server.user}@127.0.0.1:${port}/${box.box}`,
        password: server.password,
        processedMailbox: box.processed,
        errorMailbox: box.error,
        account: 'dropping',
      });
    const feed = async (port: number) => {
      const mailbox = await openMailbox(connection(port), { logger, signal: new AbortController().signal });
      try {
        return await feedInbox(mailbox, rules, {
          account: 'dropping',
          store,
          processedMailbox: box.processed,
          errorMailbox: box.error,
          logger,
        });
      } finally {
        await mailbox.close();
      }
    };

    const proxy = await startProxy(server.port);
    try {
      proxy.cutAfter(300_000);
      const error = await feed(proxy.port).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SOURCE_UNREACHABLE', retryable: true });
    } finally {
      await proxy.stop();
    }
    // small.csv arrived whole, but nothing of the message is published before all of it is: no file at all.
    expect(await readdir(folder)).toEqual([]);
    expect(await server.list(box.box)).toEqual(['Big report']);
    expect(await server.list(box.processed)).toEqual([]);
    expect((await store.handled('dropping', ['<big-1@example.com>'])).size).toBe(0);

    const result = await feed(server.port);
    expect(result).toMatchObject({ handled: 1, files: 3, failed: [] });
    expect((await readdir(folder)).sort()).toEqual([
      '20261103_Big report.eml',
      '20261103_big.xlsx',
      '20261103_small.csv',
    ]);
    expect((await readFile(path.join(folder, '20261103_big.xlsx'))).equals(big)).toBe(true);
    expect(await server.list(box.box)).toEqual([]);
    expect(await server.list(box.processed)).toEqual(['Big report']);
  });
});

/** Writes an inbox file with one account on its own mailbox and the rules given (YAML lines), and loads it. */
async function loadAccount(name: string, box: ReturnType<typeof mailboxes>, rules: string[]) {
  const file = path.join(home, `${name}.yaml`);
  await writeFile(
    file,
    [
      'accounts:',
      `  - name: ${name}`,
      `    url: imap://${server.user}@127.0.0.1:${server.port}/${box.box}`,
      '    password: ${IMAP_PASSWORD}',
      `    processedMailbox: ${box.processed}`,
      `    errorMailbox: ${box.error}`,
      'rules:',
      ...rules,
      '',
    ].join('\n'),
  );
  const load = await cli(['inbox', 'load', file]);
  expect(load.stderr).toBe('');
  expect(load.code).toBe(0);
}

describe('the same Message-ID twice in one poll', () => {
  it('is handled once by `sluice inbox poll`: one copy of each file and of the .eml, both messages moved', async () => {
    const box = mailboxes();
    const folder = path.join(home, 'twice-feeder');
    const raw = await composeMail({
      subject: 'Twice report',
      messageId: '<twice-1@example.com>',
      attachments: [
        { filename: 'a.csv', content: 'a\n1\n' },
        { filename: 'b.csv', content: 'b\n2\n' },
      ],
    });
    const stray = await composeMail({ subject: 'Stray', messageId: '<stray-1@example.com>' });
    // Delivered twice each (a list and a direct copy, say), interleaved with each other.
    for (const message of [raw, stray, raw, stray]) await server.deliver(message, box.box);
    await loadAccount('twice', box, [
      '  - name: twice-reports',
      '    account: twice',
      "    subject: 'report'",
      `    targetFolder: ${folder}`,
    ]);

    const poll = await cli(['inbox', 'poll', '--account', 'twice']);
    expect(poll.stderr).toBe('');
    expect(poll.code).toBe(0);
    expect(poll.stdout.split('\n')[0]).toBe(
      'twice: 1 message handled (3 files), 2 to Error, 0 handled before, 2 duplicates (same Message-ID) moved with the first copy',
    );
    expect((await readdir(folder)).sort()).toEqual([
      '20261103_Twice report.eml',
      '20261103_a.csv',
      '20261103_b.csv',
    ]);
    expect(await server.list(box.box)).toEqual([]);
    expect(await server.list(box.processed)).toEqual(['Twice report', 'Twice report']);
    expect(await server.list(box.error)).toEqual(['Stray', 'Stray']);
    const ledger = await db.query(
      "SELECT message_id, files FROM sluice.mail_messages WHERE account = 'twice'",
    );
    expect(ledger.rows).toEqual([
      {
        message_id: '<twice-1@example.com>',
        files: ['20261103_a.csv', '20261103_b.csv', '20261103_Twice report.eml'],
      },
    ]);
  });

  it('is handled once by a pipeline: its files load once, one .eml is kept, both messages are moved', async () => {
    const box = mailboxes();
    const folder = path.join(home, 'twice-pipeline');
    const raw = await composeMail({
      subject: 'Visits report',
      messageId: '<twice-pipeline@example.com>',
      attachments: [{ filename: 'visits.csv', content: VISITS_CSV }],
    });
    await server.deliver(raw, box.box);
    await server.deliver(raw, box.box);
    const pipeline = path.join(home, 'twice.yaml');
    await writeFile(
      pipeline,
      [
        'name: imap_twice',
        'source:',
        '  type: imap',
        '  url: ${IMAP_URL}',
        '  password: ${IMAP_PASSWORD}',
        '  account: twice-box',
        `  processedMailbox: ${box.processed}`,
        `  errorMailbox: ${box.error}`,
        '  rules:',
        `    - { name: visits, subject: 'visits report', targetFolder: '${folder}' }`,
        "parse: { type: csv, delimiter: ',' }",
        'load: { type: postgres, table: twice_visits }',
        '',
      ].join('\n'),
    );
    const env = { IMAP_URL: server.url(box.box), IMAP_PASSWORD: server.password };
    const summary = await runPipelineFile(db, pipeline, { env, home, asOf: '2026-11-27' });
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, filesSkipped: 0, rowsLoaded: 2 });
    expect(summary.files.map((f) => f.name)).toEqual(['20261103_visits.csv']);
    expect(await readdir(folder)).toEqual(['20261103_Visits report.eml']);
    expect(await server.list(box.box)).toEqual([]);
    expect(await server.list(box.processed)).toEqual(['Visits report', 'Visits report']);
    expect(
      (await db.query("SELECT count(*)::int AS n FROM sluice.mail_messages WHERE account = 'twice-box'"))
        .rows,
    ).toEqual([{ n: 1 }]);
  });
});

describe('sender rules', () => {
  it('match one canonical form: `Name <address>`, or `<address>` for a sender without a display name', async () => {
    const box = mailboxes();
    const folder = path.join(home, 'acme');
    const froms = [
      'reports@acme.example',
      '<reports@acme.example>',
      'Acme Reports <reports@acme.example>',
      '"Ventas, Acme" <ventas@acme.example>',
      'reports@acme.example (Acme Reports)',
      'mallory@acme.example.evil.test',
      'Acme <mallory@evil.test>',
    ];
    for (const [i, from] of froms.entries())
      await server.deliver(
        await composeMail({
          subject: `From ${i}`,
          from,
          messageId: `<sender-${i}@example.com>`,
          attachments: [{ filename: `r${i}.csv`, content: `n\n${i}\n` }],
        }),
        box.box,
      );
    // The pattern docs/mail.md gives for "anyone at acme.example".
    await loadAccount('acme', box, [
      '  - name: acme-reports',
      '    account: acme',
      "    sender: '@acme\\.example>$'",
      `    targetFolder: ${folder}`,
    ]);
    const poll = await cli(['inbox', 'poll', '--account', 'acme']);
    expect(poll.code).toBe(0);
    expect(poll.stdout.split('\n')[0]).toBe(
      'acme: 5 messages handled (10 files), 2 to Error, 0 handled before',
    );
    expect(await server.list(box.processed)).toEqual(['From 0', 'From 1', 'From 2', 'From 3', 'From 4']);
    expect(await server.list(box.error)).toEqual(['From 5', 'From 6']);
    // The ledger keeps the sender as the rule saw it.
    const { rows } = await db.query(
      "SELECT subject, sender FROM sluice.mail_messages WHERE account = 'acme' ORDER BY subject",
    );
    expect(rows).toEqual([
      { subject: 'From 0', sender: '<reports@acme.example>' },
      { subject: 'From 1', sender: '<reports@acme.example>' },
      { subject: 'From 2', sender: 'Acme Reports <reports@acme.example>' },
      { subject: 'From 3', sender: 'Ventas, Acme <ventas@acme.example>' },
      { subject: 'From 4', sender: 'Acme Reports <reports@acme.example>' },
    ]);
  });
});

describe('sluice inbox with nothing saved', () => {
  let emptyDb: TestDatabase;
  let emptyHome: string;
  beforeAll(async () => {
    emptyDb = await createTestDatabase();
    emptyHome = await tempDir();
  });
  afterAll(async () => {
    await emptyDb?.drop();
  });
  const emptyCli = (args: string[]) => runCli(args, { DATABASE_URL: emptyDb.url, SLUICE_HOME: emptyHome });
  const howToAdd =
    'Add accounts and rules with `sluice inbox load FILE.yaml` (an `accounts:` and a `rules:` list; docs/mail.md shows one).';

  it('says there is no account or rule yet, and how to add one', async () => {
    const status = await emptyCli(['inbox', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toBe(`no mail account is known yet.\n${howToAdd}\n`);
    expect(JSON.parse((await emptyCli(['inbox', 'status', '--json'])).stdout)).toEqual([]);

    const list = await emptyCli(['inbox', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe(`no inbox rule is saved.\n${howToAdd}\n`);

    const poll = await emptyCli(['inbox', 'poll']);
    expect(poll.code).toBe(2);
    expect(poll.stderr).toBe(
      `sluice: no mail account is saved\n${howToAdd} \`sluice inbox status\` lists the accounts.\n`,
    );
  });
});

describe('the last successful poll of each account', () => {
  it('is recorded by `sluice inbox poll` and by pipelines, kept through failed polls, and read by lastSuccessfulPolls', async () => {
    const box = mailboxes();
    await server.deliver(await composeMail({ subject: 'Alive report' }), box.box);
    await loadAccount('alive', box, [
      '  - name: alive-reports',
      '    account: alive',
      "    subject: 'report'",
      `    targetFolder: ${path.join(home, 'alive')}`,
    ]);
    const before = new Date();
    const poll = await cli(['inbox', 'poll', '--account', 'alive']);
    expect(poll.code).toBe(0);
    const after = new Date();
    const first = (await lastSuccessfulPolls(db)).get('alive');
    expect(first).toBeInstanceOf(Date);
    expect(first!.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(first!.getTime()).toBeLessThanOrEqual(after.getTime());

    // A poll that fails (the password is refused) is recorded as an attempt: the last success stays.
    const failed = await cli(['inbox', 'poll', '--account', 'alive'], { IMAP_PASSWORD: 'not-the-password' });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^alive: poll failed: .*refused the login/);
    expect((await lastSuccessfulPolls(db)).get('alive')).toEqual(first);
    const status = JSON.parse((await cli(['inbox', 'status', '--json'])).stdout) as {
      account: string;
      lastError: string | null;
    }[];
    expect(status.find((a) => a.account === 'alive')?.lastError).toMatch(/refused the login/);

    // A pipeline polls too: a refused login is an attempt without success; a good one is a success.
    const pipelineBox = mailboxes();
    await server.deliver(
      await composeMail({
        subject: 'Pipeline report',
        attachments: [{ filename: 'p.csv', content: 'n\n1\n' }],
      }),
      pipelineBox.box,
    );
    const pipeline = path.join(home, 'alive.yaml');
    await writeFile(
      pipeline,
      [
        'name: imap_alive',
        'source:',
        '  type: imap',
        '  url: ${IMAP_URL}',
        '  password: ${IMAP_PASSWORD}',
        '  account: alive-pipeline',
        `  processedMailbox: ${pipelineBox.processed}`,
        `  errorMailbox: ${pipelineBox.error}`,
        "  rules: [{ name: any, subject: 'report' }]",
        "parse: { type: csv, delimiter: ',' }",
        'load: { type: postgres, table: alive_rows }',
        '',
      ].join('\n'),
    );
    const url = server.url(pipelineBox.box);
    const refused = await runPipelineFile(db, pipeline, {
      env: { IMAP_URL: url, IMAP_PASSWORD: 'not-the-password' },
      home,
      asOf: '2026-11-27',
    });
    expect(refused.status).toBe('failed');
    let polls = await lastSuccessfulPolls(db);
    expect(polls.has('alive-pipeline')).toBe(true);
    expect(polls.get('alive-pipeline')).toBeNull();

    const ok = await runPipelineFile(db, pipeline, {
      env: { IMAP_URL: url, IMAP_PASSWORD: server.password },
      home,
      asOf: '2026-11-27',
    });
    expect(ok).toMatchObject({ status: 'succeeded', filesLoaded: 1 });
    polls = await lastSuccessfulPolls(db);
    expect(polls.get('alive-pipeline')).toBeInstanceOf(Date);
    expect(polls.get('alive')).toEqual(first);
  });
});

describe('a dry run of an imap pipeline', () => {
  it('moves no message, writes no .eml and records nothing; the real run then does it all', async () => {
    const box = mailboxes();
    const folder = path.join(home, 'dry');
    await server.deliver(
      await composeMail({
        subject: 'Visits report',
        messageId: '<dry-1@example.com>',
        attachments: [{ filename: 'visits.csv', content: VISITS_CSV }],
      }),
      box.box,
    );
    await server.deliver(await composeMail({ subject: 'Newsletter' }), box.box);
    await server.deliver(await composeMail({ subject: 'Empty visits report' }), box.box);
    const pipeline = path.join(home, 'dry.yaml');
    await writeFile(
      pipeline,
      [
        'name: imap_dry',
        'source:',
        '  type: imap',
        '  url: ${IMAP_URL}',
        '  password: ${IMAP_PASSWORD}',
        '  account: dry-box',
        `  processedMailbox: ${box.processed}`,
        `  errorMailbox: ${box.error}`,
        '  rules:',
        `    - { name: visits, subject: '^visits report', attachment: '\\.csv$', targetFolder: '${folder}' }`,
        "    - { name: empty, subject: 'empty', hasAttachment: false }",
        "parse: { type: csv, delimiter: ',' }",
        'load: { type: postgres, table: dry_visits }',
        '',
      ].join('\n'),
    );
    const env = { IMAP_URL: server.url(box.box), IMAP_PASSWORD: server.password };
    const dry = await runPipelineFile(db, pipeline, { env, home, asOf: '2026-11-27', dryRun: true });
    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, filesLoaded: 1, rowsLoaded: 2 });
    expect(await server.list(box.box)).toEqual(['Visits report', 'Newsletter', 'Empty visits report']);
    expect(await server.list(box.processed)).toEqual([]);
    expect(await server.list(box.error)).toEqual([]);
    expect(await readdir(folder).catch(() => [])).toEqual([]);
    const ledger = "SELECT count(*)::int AS n FROM sluice.mail_messages WHERE account = 'dry-box'";
    expect((await db.query(ledger)).rows).toEqual([{ n: 0 }]);

    const real = await runPipelineFile(db, pipeline, { env, home, asOf: '2026-11-27' });
    expect(real).toMatchObject({ status: 'succeeded', dryRun: false, filesLoaded: 1, rowsLoaded: 2 });
    expect(await server.list(box.box)).toEqual([]);
    expect((await server.list(box.processed)).sort()).toEqual(['Empty visits report', 'Visits report']);
    expect(await server.list(box.error)).toEqual(['Newsletter']);
    expect(await readdir(folder)).toEqual(['20261103_Visits report.eml']);
    expect((await db.query(ledger)).rows).toEqual([{ n: 2 }]);
  });
});
