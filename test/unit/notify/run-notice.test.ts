import { describe, expect, it } from 'vitest';
import { notifySchema, type NotifySpec } from '../../../src/core/notify-spec.js';
import {
  composeNotice,
  noticeFor,
  rejectCsvRecord,
  type NoticeReject,
  type RunFacts,
} from '../../../src/notify/run-notice.js';

const summary = (over: Partial<RunFacts> = {}): RunFacts => ({
  runId: '00000000-0000-4000-8000-000000000001',
  pipeline: 'visits',
  status: 'succeeded',
  asOf: '2026-11-27',
  dryRun: false,
  resumed: false,
  files: [
    { name: 'report_1.txt', status: 'loaded', rowsRejected: 4 },
    { name: 'report_2.txt', status: 'loaded', rowsRejected: 2 },
    { name: 'report_3.txt', status: 'loaded', rowsRejected: 0 },
  ],
  rowsRead: 30,
  rowsLoaded: 24,
  rowsRejected: 6,
  filesLoaded: 3,
  filesRejected: 0,
  filesSkipped: 0,
  durationMs: 1234,
  ...over,
});

const notify = (over: Record<string, unknown> = {}): NotifySpec =>
  notifySchema.parse({
    email: { host: 'smtp.example.com', from: 'etl@example.com', to: 'ops@example.com' },
    ...over,
  });

const reject = (line: number, over: Partial<NoticeReject> = {}): NoticeReject => ({
  file: 'report_1.txt',
  line,
  column: 'email',
  rule: 'email',
  value: `bad${line}`,
  message: 'not an e-mail address',
  raw: `bad${line},x`,
  ...over,
});

describe('noticeFor', () => {
  it('makes a rejects notice when rows pass the threshold', () => {
    const n = noticeFor(summary(), notify());
    expect(n?.reason).toBe('rejects');
    expect(n?.subject).toBe('[sluice] visits: 6 rows rejected in 2 files');
    expect(n?.text).toContain('Run:      00000000-0000-4000-8000-000000000001');
    expect(n?.text).toContain('As of:    2026-11-27');
    expect(n?.text).toContain('Rows:     30 read, 24 loaded, 6 rejected');
    expect(n?.text).toContain('Duration: 1.2 s');
  });

  it('says nothing under the threshold, for a clean run, or for a dry run', () => {
    expect(noticeFor(summary(), notify({ rejectThreshold: 7 }))).toBeUndefined();
    expect(noticeFor(summary(), notify({ rejectThreshold: 6 }))).toBeDefined();
    expect(noticeFor(summary({ rowsRejected: 0, files: [] }), notify())).toBeUndefined();
    expect(noticeFor(summary({ dryRun: true }), notify())).toBeUndefined();
    expect(noticeFor(summary(), notify({ on: ['failure'] }))).toBeUndefined();
  });

  it('counts a file rejected whole, under any threshold', () => {
    const n = noticeFor(
      summary({
        rowsRejected: 0,
        filesRejected: 1,
        files: [{ name: 'report_4.txt', status: 'rejected', reason: 'an extra column', rowsRejected: 0 }],
      }),
      notify({ rejectThreshold: 100 }),
    );
    expect(n?.subject).toBe('[sluice] visits: 1 file rejected');
    expect(n?.text).toContain('report_4.txt: an extra column');
  });

  it('makes a failure notice with the error, escaped in HTML', () => {
    const n = noticeFor(
      summary({ status: 'failed', error: { code: 'LOAD_FAILED', message: 'column <x> & "y" is missing' } }),
      notify({ email: { host: 'h', from: 'a@b.c', to: 'd@e.f', subjectPrefix: '[etl]' } }),
    );
    expect(n?.reason).toBe('failure');
    expect(n?.subject).toBe('[etl] visits failed');
    expect(n?.text).toContain('Error:    LOAD_FAILED: column <x> & "y" is missing');
    expect(n?.html).toContain('column &lt;x&gt; &amp; &quot;y&quot; is missing');
    expect(n?.html).not.toContain('<x>');
    expect(n?.slack).toContain('column &lt;x&gt; &amp; "y" is missing');
  });

  it('sends no failure notice when only rejects are asked for', () => {
    const failed = summary({
      status: 'failed',
      rowsRejected: 0,
      files: [],
      error: { code: 'X', message: 'y' },
    });
    expect(noticeFor(failed, notify({ on: ['rejects'] }))).toBeUndefined();
  });
});

describe('composeNotice', () => {
  it('puts the first 20 rejects inline and names the attachment', () => {
    const n = noticeFor(summary({ rowsRejected: 25 }), notify())!;
    const rejects = Array.from({ length: 25 }, (_, i) => reject(i + 2));
    const c = composeNotice(n, rejects, 25, 'rejects-x.csv');
    expect(c.text).toContain('The first 20 of 25 rejects (all of them in rejects-x.csv):');
    expect(c.text).toContain('report_1.txt:21 email (email) "bad21": not an e-mail address');
    expect(c.text).not.toContain('report_1.txt:22 ');
    expect(c.html.match(/<tr><td>/g)).toHaveLength(20);
    expect(c.slack).toContain('```');
  });

  it('escapes reject values in the HTML table', () => {
    const n = noticeFor(summary(), notify())!;
    const c = composeNotice(n, [reject(5, { value: '<script>' })], 1, 'r.csv');
    expect(c.html).toContain('<td>&lt;script&gt;</td>');
    expect(c.text).toContain('The reject (all of them in r.csv):');
  });
});

describe('rejectCsvRecord', () => {
  it('quotes as RFC 4180 asks', () => {
    expect(rejectCsvRecord(reject(3, { raw: 'a,"b"\nc', column: null, value: null }))).toBe(
      'report_1.txt,3,,email,,not an e-mail address,"a,""b""\nc"\r\n',
    );
  });
});

describe('notify section', () => {
  it('treats an email block with neither host nor to as not configured', () => {
    expect(notifySchema.parse({ email: { port: '587', from: 'a@b.c' } })).toEqual({
      on: ['failure', 'rejects'],
      rejectThreshold: 1,
    });
  });

  it('still wants a channel, and host with to', () => {
    expect(notifySchema.safeParse({}).success).toBe(false);
    const half = notifySchema.safeParse({ email: { host: 'h', from: 'a@b.c' } });
    expect(half.error?.issues.map((i) => i.path.join('.'))).toEqual(['email.to']);
    expect(notifySchema.safeParse({ email: { to: 'a@b.c', host: 'h' } }).success).toBe(false); // no from
  });
});
