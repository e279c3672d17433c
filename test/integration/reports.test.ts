import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cellText, parseReportsYaml, saveReports, sendReport } from '../../src/notify/reports.js';
import { listReportSends, listReports } from '../../src/store/reports.js';
import type { Database } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';
import { csvRecords } from '../helpers/csv-records.js';
import { memoryLogger, startMailServer, type MailServer } from '../helpers/mail-server.js';

const decode = (s: string) =>
  s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');

/** Every `<table>` of an HTML body as rows of decoded cell texts (header row first). */
function htmlTables(html: string): string[][][] {
  return [...html.matchAll(/<table[^>]*>([\s\S]*?)<\/table>/g)].map((table) =>
    [...table[1]!.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((tr) =>
      [...tr[1]!.matchAll(/<t[hd]>([\s\S]*?)<\/t[hd]>/g)].map((cell) => decode(cell[1]!)),
    ),
  );
}

/** The rows of a query as a grid of texts, header first: what every table and file must equal. */
async function grid(db: Database, sql: string): Promise<string[][]> {
  const { rows } = await db.query(sql);
  const columns = Object.keys(rows[0]!);
  return [columns, ...rows.map((r) => columns.map((c) => cellText(r[c])))];
}

const VISITORS_SQL = 'SELECT email, visits, last_visit FROM report_visitor ORDER BY email';
const ERRORS_SQL = 'SELECT file_name, line_number, reasons FROM report_errors ORDER BY line_number';

const reportsYaml = `
reports:
  - name: daily
    to: [boss@example.com]
    cc: team@example.com
    bcc: audit@example.com
    subject: 'Visits: {{total}} visitors'
    body: |
      <h1>Visits</h1>
      {{visitors}}
      <h2>Errors</h2>
      {{errors}}
    queries:
      total: SELECT count(*) FROM report_visitor
      visitors: ${VISITORS_SQL}
      errors: ${ERRORS_SQL};
    attachments:
      - { fileName: 'visitors_{timestamp}.csv', format: csv, sql: '${VISITORS_SQL}' }
      - { fileName: 'errors_{timestamp}.xlsx', format: xlsx, sql: '${ERRORS_SQL}' }
    schedule: '0 7 * * 1-5'
    smtp:
      host: 127.0.0.1
      port: \${REPORT_SMTP_PORT}
      security: none
      from: sluice@example.com
  - name: broken
    to: boss@example.com
    subject: Broken
    body: '<p>Before</p>{{bad}}<p>Between</p>{{good}}'
    queries:
      bad: SELECT no_such_column FROM report_visitor
      good: SELECT 1 AS one
    attachments:
      - { fileName: 'bad.csv', format: csv, sql: 'SELECT * FROM no_such_table' }
    active: false
    smtp: { host: 127.0.0.1, port: '\${REPORT_SMTP_PORT}', security: none, from: sluice@example.com }
`;

let store: TestStore;
let db: Database;
let home: string;
let smtp: MailServer;
let env: Record<string, string>;

beforeAll(async () => {
  smtp = await startMailServer();
  env = { REPORT_SMTP_PORT: String(smtp.port) };
});
afterAll(async () => {
  await smtp?.stop();
});

beforeEach(async () => {
  store = await createTestStore();
  ({ db, home } = store);
  smtp.received.length = 0;
  await db.exec(`
    CREATE TABLE report_visitor (email text PRIMARY KEY, visits integer NOT NULL, last_visit timestamp);
    INSERT INTO report_visitor VALUES
      ('ana@example.com', 3, '2026-11-02 10:15:00'),
      ('bob@example.com', 1, NULL),
      ('<script>@example.com', 2, '2026-11-01 08:00:00');
    CREATE TABLE report_errors (file_name text, line_number integer, reasons text);
    INSERT INTO report_errors VALUES
      ('report_1.txt', 4, 'email: not an e-mail address, "x" & <y>'),
      ('report_1.txt', 7, 'Fecha envio: required');
  `);
  await saveReports(db, parseReportsYaml(reportsYaml, { file: 'reports.yaml', env }));
});

afterEach(async () => {
  await store.close();
});

describe('reports', () => {
  it('are saved with their definition as written and listed', async () => {
    const reports = await listReports(db);
    expect(reports.map((r) => [r.name, r.schedule, r.active])).toEqual([
      ['broken', null, false],
      ['daily', '0 7 * * 1-5', true],
    ]);
    const smtpSettings = reports[1]!.definition.smtp as Record<string, unknown>;
    expect(smtpSettings.port).toBe('${REPORT_SMTP_PORT}');
    // Loading again replaces them.
    await saveReports(db, parseReportsYaml(reportsYaml, { file: 'reports.yaml', env }));
    expect(await listReports(db)).toHaveLength(2);
  });

  it('mails two grids equal to their queries, a CSV and an XLSX attachment, and records the send', async () => {
    const logger = memoryLogger();
    const result = await sendReport(db, 'daily', { logger, env });
    expect(result.status).toBe('sent');
    const [mail] = await smtp.next();
    expect(mail!.subject).toBe('Visits: 3 visitors');
    expect(mail!.from?.text).toBe('sluice@example.com');
    expect(mail!.to).toMatchObject({ text: 'boss@example.com' });
    expect(mail!.cc).toMatchObject({ text: 'team@example.com' });

    const html = mail!.html as string;
    expect(html).not.toContain('<script>');
    const tables = htmlTables(html);
    expect(tables).toHaveLength(2);
    const visitors = await grid(db, VISITORS_SQL);
    const errors = await grid(db, ERRORS_SQL);
    expect(tables[0]).toEqual(visitors);
    expect(tables[1]).toEqual(errors);
    expect(visitors[1]![0]).toBe('<script>@example.com'); // escaped in the mail, equal once decoded
    expect(html).toContain('<td>&lt;script&gt;@example.com</td>');
    expect(visitors[3]).toEqual(['bob@example.com', '1', '']); // null is empty

    const files = mail!.attachments.map((a) => a.filename ?? '');
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^visitors_\d{8}_\d{6}\.csv$/);
    expect(files[1]).toMatch(/^errors_\d{8}_\d{6}\.xlsx$/);
    expect(csvRecords(mail!.attachments[0]!.content.toString('utf8'))).toEqual(visitors);

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(mail!.attachments[1]!.content as unknown as ExcelJS.Buffer);
    const sheet = workbook.worksheets[0]!;
    const xlsxRows: string[][] = [];
    sheet.eachRow((row) => {
      xlsxRows.push(
        (row.values as unknown[]).slice(1).map((v) => (v === null || v === undefined ? '' : String(v))),
      );
    });
    expect(xlsxRows).toEqual(errors);
    expect(typeof sheet.getRow(2).getCell(2).value).toBe('number');

    const [send] = await listReportSends(db, 'daily');
    expect(send).toMatchObject({
      status: 'sent',
      error: null,
      eml_path: null,
      recipients: { to: ['boss@example.com'], cc: ['team@example.com'], bcc: ['audit@example.com'] },
      rows_per_query: { total: 1, visitors: 3, errors: 2, [files[0]!]: 3, [files[1]!]: 2 },
    });
  });

  it('puts a note in place of a broken query and still sends', async () => {
    const logger = memoryLogger();
    const result = await sendReport(db, 'broken', { logger, env });
    expect(result.status).toBe('sent');
    const [mail] = await smtp.next();
    const html = mail!.html as string;
    expect(html).toMatch(
      /<p>Before<\/p><p class="error">query bad failed: [^<]*no_such_column[^<]*<\/p><p>Between<\/p>/,
    );
    expect(htmlTables(html)).toEqual([[['one'], ['1']]]);
    expect(html).toMatch(/<p class="error">attachment bad.csv failed: [^<]*no_such_table/);
    expect(mail!.attachments).toEqual([]);

    const [send] = await listReportSends(db, 'broken');
    expect(send!.status).toBe('sent');
    expect(send!.rows_per_query).toEqual({ bad: null, good: 1, 'bad.csv': null });
    expect(send!.error).toMatch(/query bad failed: .*no_such_column/);
  });

  it('runs queries read-only', async () => {
    await db.exec(`
      UPDATE sluice.reports SET definition = jsonb_set(definition, '{queries,good}',
        to_jsonb('DELETE FROM report_visitor RETURNING *'::text)) WHERE name = 'broken';
      UPDATE sluice.reports SET definition = jsonb_set(definition, '{queries,bad}',
        to_jsonb('SELECT 1) q; COMMIT; DELETE FROM report_visitor; SELECT * FROM (SELECT 1'::text))
        WHERE name = 'broken';
    `);
    await sendReport(db, 'broken', { logger: memoryLogger(), env });
    const [send] = await listReportSends(db, 'broken');
    expect(send!.rows_per_query).toMatchObject({ bad: null, good: null });
    const { rows } = await db.query('SELECT count(*)::int AS n FROM report_visitor');
    expect(rows[0]).toEqual({ n: 3 });
  });

  it('writes an .eml on a dry run, sends nothing and records it', async () => {
    const out = path.join(home, 'out');
    const result = await sendReport(db, 'daily', { logger: memoryLogger(), env, dryRun: true, outDir: out });
    expect(result.status).toBe('dry_run');
    expect(await readdir(out)).toEqual([path.basename(result.emlPath!)]);
    const mail = await simpleParser(await readFile(result.emlPath!));
    expect(mail.subject).toBe('Visits: 3 visitors');
    expect(htmlTables(mail.html as string)[0]).toEqual(await grid(db, VISITORS_SQL));
    expect(mail.attachments).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(smtp.received).toHaveLength(0);
    const [send] = await listReportSends(db, 'daily');
    expect(send).toMatchObject({ status: 'dry_run', eml_path: result.emlPath });
  });

  it('records a send the server refused as failed', async () => {
    const port = await freePort(); // nothing listens there
    const result = await sendReport(db, 'daily', {
      logger: memoryLogger(),
      env: { REPORT_SMTP_PORT: String(port) },
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
    });
    expect(result.status).toBe('failed');
    const [send] = await listReportSends(db, 'daily');
    expect(send!.status).toBe('failed');
    expect(send!.error).toMatch(/SMTP 127\.0\.0\.1/);
  });

  it('loads, lists and sends from the command line', async () => {
    const file = path.join(home, 'reports.yaml');
    await writeFile(file, reportsYaml);
    const cliEnv = { ...env, ...store.env };
    const loaded = await runCli(['report', 'load', file], cliEnv);
    expect(loaded.stdout).toBe('loaded 2 reports: daily, broken\n');
    expect(loaded.code).toBe(0);
    const listed = await runCli(['report', 'list'], cliEnv);
    expect(listed.stdout).toMatch(/^broken +inactive +- +Broken\ndaily +active +0 7 \* \* 1-5 +Visits/);

    const out = path.join(home, 'eml');
    const dry = await runCli(['report', 'send', 'daily', '--dry-run', '--out', out], cliEnv);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^report daily written to .*daily-\d{8}_\d{6}\.eml \(.*total: 1 row,.*visitors: 3 rows/,
    );
    expect(await readdir(out)).toHaveLength(1);

    const sent = await runCli(['report', 'send', 'broken'], cliEnv);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/^report broken sent \(.*bad: failed.*good: 1 row/);
    expect(sent.stdout).toMatch(/\n {2}query bad failed: .*no_such_column/);
    await smtp.next();

    const unknown = await runCli(['report', 'send', 'nope'], cliEnv);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe('sluice: no report is named nope\nThe loaded reports are: broken, daily.\n');
  });

  it('says so when no report is loaded, and names none that does not exist', async () => {
    const cliEnv = { ...env, ...store.env };
    await db.query('DELETE FROM sluice.reports');
    const listed = await runCli(['report', 'list'], cliEnv);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toBe('no report is loaded; load them with `sluice report load FILE.yaml`\n');
    const unknown = await runCli(['report', 'send', 'daily'], cliEnv);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'sluice: no report is named daily\nNo report is loaded yet: load them with `sluice report load FILE.yaml`.\n',
    );
  });

  it('refuses an unknown report', async () => {
    await expect(sendReport(db, 'nope', { logger: memoryLogger(), env })).rejects.toThrow(
      /no report is named nope/,
    );
  });
});
