import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dueReports, reportSchedules, sendDueReports } from '../../src/notify/report-schedule.js';
import { parseReportsYaml, saveReports } from '../../src/notify/reports.js';
import { listReportSends } from '../../src/store/reports.js';
import type { Database } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { memoryLogger, startMailServer, type MailServer } from '../helpers/mail-server.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

let smtp: MailServer;
let store: TestStore;
let db: Database;
let home: string;

beforeAll(async () => {
  smtp = await startMailServer();
  store = await createTestStore();
  ({ db, home } = store);
});

afterAll(async () => {
  await store?.close();
  await smtp?.stop();
});

function report(name: string, extra: string[]): string {
  return [
    `  - name: ${name}`,
    `    to: ${name}@example.com`,
    `    subject: 'Report ${name}: {{total}}'`,
    "    body: '<p>{{total}}</p>'",
    '    queries: { total: SELECT 42 AS total }',
    '    smtp:',
    '      host: 127.0.0.1',
    '      port: ${REPORT_SMTP_PORT}',
    '      security: none',
    '      from: sluice@example.com',
    ...extra.map((l) => `    ${l}`),
  ].join('\n');
}

async function load(yaml: string, loadedAt: string) {
  const env = { REPORT_SMTP_PORT: String(smtp.port) };
  const reports = parseReportsYaml(yaml, { file: 'reports.yaml', env });
  await saveReports(db, reports);
  await db.query('UPDATE sluice.reports SET updated_at = $2 WHERE name = ANY($1::text[])', [
    reports.map((r) => r.spec.name),
    loadedAt,
  ]);
}

const names = (due: { name: string }[]) => due.map((d) => d.name);

describe('sluice report due: reports sent on their cron schedule', () => {
  it('is due once per tick since the last send, in the report time zone, and only when active with a schedule', async () => {
    await load(
      [
        'reports:',
        report('mexico', ["schedule: '0 7 * * *'", 'timezone: America/Mexico_City']),
        report('utc', ["schedule: '0 7 * * *'", 'timezone: UTC']),
        report('paused', ["schedule: '0 7 * * *'", 'timezone: UTC', 'active: false']),
        report('manual', []),
      ].join('\n'),
      '2026-11-26T00:00:00Z',
    );
    const env = { REPORT_SMTP_PORT: String(smtp.port) };
    const logger = memoryLogger();
    // 07:00 UTC has passed; 07:00 in Mexico City (UTC-6) is 13:00 UTC.
    expect(names(await dueReports(db, new Date('2026-11-26T12:59:00Z')))).toEqual(['utc']);
    // The ones not due yet carry the tick they wait for.
    expect(await reportSchedules(db, new Date('2026-11-26T12:59:00Z'))).toEqual([
      expect.objectContaining({ name: 'mexico', due: false, tick: '2026-11-26T13:00:00.000Z' }),
      expect.objectContaining({ name: 'utc', due: true, tick: '2026-11-26T07:00:00.000Z' }),
    ]);
    const due = await dueReports(db, new Date('2026-11-26T13:00:30Z'));
    expect(due).toEqual([
      {
        name: 'mexico',
        schedule: '0 7 * * *',
        timezone: 'America/Mexico_City',
        since: '2026-11-26T00:00:00.000Z',
        tick: '2026-11-26T13:00:00.000Z',
      },
      expect.objectContaining({ name: 'utc', tick: '2026-11-26T07:00:00.000Z' }),
    ]);

    const sends = await sendDueReports(db, { logger, env, now: new Date('2026-11-26T13:00:30Z') });
    expect(sends?.map((s) => ('result' in s ? [s.name, s.result.status] : [s.name, s.error]))).toEqual([
      ['mexico', 'sent'],
      ['utc', 'sent'],
    ]);
    const received = await smtp.next(2);
    expect(received.map((m) => m.subject).sort()).toEqual(['Report mexico: 42', 'Report utc: 42']);
    // Recorded as `report send` records a send.
    expect(await listReportSends(db, 'mexico')).toEqual([
      expect.objectContaining({
        status: 'sent',
        rows_per_query: { total: 1 },
        recipients: { to: ['mexico@example.com'], cc: [], bcc: [] },
      }),
    ]);

    // Sent for this tick: not due again until the next one.
    expect(await dueReports(db, new Date('2026-11-26T23:00:00Z'))).toEqual([]);
    expect(await sendDueReports(db, { logger, env, now: new Date('2026-11-26T23:00:00Z') })).toEqual([]);
    expect(names(await dueReports(db, new Date('2026-11-27T07:00:01Z')))).toEqual(['utc']);
    // Two missed ticks make it due once.
    expect(names(await dueReports(db, new Date('2026-11-29T13:00:01Z')))).toEqual(['mexico', 'utc']);
    expect(smtp.received.length).toBe(2);
  });

  it('runs from the command line: `report due` lists, `report due --send` sends and records, a rerun sends nothing', async () => {
    await db.query('UPDATE sluice.reports SET active = false');
    const file = path.join(home, 'reports.yaml');
    await writeFile(
      file,
      ['reports:', report('nightly', ["schedule: '0 0 * * *'", 'timezone: UTC'])].join('\n'),
    );
    const env = {
      ...store.env,
      REPORT_SMTP_PORT: String(smtp.port),
    };
    expect((await runCli(['report', 'load', file], env)).stdout).toBe('loaded 1 report: nightly\n');
    // Loaded two days ago: last midnight has ticked since.
    await db.query("UPDATE sluice.reports SET updated_at = now() - interval '2 days' WHERE name = 'nightly'");

    const list = await runCli(['report', 'due'], env);
    expect(list.stdout).toMatch(/^nightly\s+0 0 \* \* \*\s+due since \S+T00:00:00\.000Z \(UTC\)\n$/);
    expect(smtp.received.length).toBe(2); // listing sends nothing

    const send = await runCli(['report', 'due', '--send'], env);
    expect(send.stderr).toBe('');
    expect(send.code).toBe(0);
    expect(send.stdout).toMatch(/^report nightly \(due \S+\) sent\n$/);
    const [, , nightly] = await smtp.next(3);
    expect(nightly?.subject).toBe('Report nightly: 42');
    expect((await listReportSends(db, 'nightly')).map((s) => s.status)).toEqual(['sent']);

    // Nothing due: it says so, with the reports it looked at and their next tick.
    const nextMidnight =
      /^no report is due; looked at 1 scheduled report:\n {2}nightly {2}0 0 \* \* \* {2}next \d{4}-\d\d-\d\dT00:00:00\.000Z \(UTC\)\n$/;
    const again = await runCli(['report', 'due', '--send'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(nextMidnight);
    expect(smtp.received.length).toBe(3);
    const listAgain = await runCli(['report', 'due'], env);
    expect(listAgain.stdout).toMatch(nextMidnight);
    // The tick it names is the first one after the send just recorded.
    const [lastSend] = await listReportSends(db, 'nightly');
    const named = new Date(/next (\S+)/.exec(listAgain.stdout)![1]!);
    expect(named.getTime()).toBeGreaterThan(new Date(lastSend!.sent_at).getTime());
    expect(named.getTime() - new Date(lastSend!.sent_at).getTime()).toBeLessThanOrEqual(24 * 3600_000);
    expect(JSON.parse((await runCli(['report', 'due', '--json'], env)).stdout)).toEqual([]);

    // No active report has a schedule: it says so, and how a report gets one.
    await db.query('UPDATE sluice.reports SET active = false');
    const none = await runCli(['report', 'due'], env);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(
      'no report is due: no active report has a schedule\n' +
        'A report runs on its own with `schedule:` (a cron expression) in its file; `sluice report list` shows them.\n',
    );
    expect((await runCli(['report', 'due', '--send'], env)).stdout).toMatch(
      /^no report is due: no active report/,
    );
  });

  it('refuses a time zone that does not exist', () => {
    const yaml = ['reports:', report('bad', ["schedule: '0 7 * * *'", 'timezone: Mars/Olympus']), ''].join(
      '\n',
    );
    expect(() => parseReportsYaml(yaml, { file: 'r.yaml', env: { REPORT_SMTP_PORT: '25' } })).toThrow(
      /reports\[0\]\.timezone: not a time zone/,
    );
  });
});
