import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cronProblem, placeholdersIn, reportSchema } from '../../../src/core/report-spec.js';
import { parseReportsYaml } from '../../../src/notify/reports.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

const valid = {
  name: 'daily',
  to: 'boss@example.com',
  bcc: ['audit@example.com'],
  subject: 'Visits: {{total}}',
  body: '<h1>Visits</h1>{{ top }}{{total}}',
  queries: { total: 'SELECT count(*) FROM visitor', top: 'SELECT * FROM visitor LIMIT 10' },
  attachments: [{ fileName: 'visitors_{timestamp}.xlsx', format: 'xlsx', sql: 'SELECT 1' }],
  schedule: '0 7 * * mon-fri',
  smtp: { host: 'smtp.example.com', from: 'sluice@example.com' },
};

describe('reportSchema', () => {
  it('parses a valid report with defaults', () => {
    const report = reportSchema.parse(valid);
    expect(report.to).toEqual(['boss@example.com']);
    expect(report.bcc).toEqual(['audit@example.com']);
    expect(report.active).toBe(true);
    expect(report.smtp).toEqual({
      host: 'smtp.example.com',
      from: 'sluice@example.com',
      port: 587,
      security: 'starttls',
    });
    expect(report.attachments[0]?.format).toBe('xlsx');
  });

  it('refuses a placeholder that has no query, naming it', () => {
    const result = reportSchema.safeParse({
      ...valid,
      body: '{{top}} {{missing_grid}}',
      subject: '{{nope}}',
    });
    expect(result.success).toBe(false);
    const messages = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toContain('body: unknown placeholder {{missing_grid}}: no query is named missing_grid');
    expect(messages).toContain('subject: unknown placeholder {{nope}}: no query is named nope');
  });

  it('refuses a bad schedule, a bad format and a report without smtp host', () => {
    const result = reportSchema.safeParse({
      ...valid,
      schedule: '61 * * * *',
      attachments: [{ fileName: 'a.pdf', format: 'pdf', sql: 'SELECT 1' }],
      smtp: { from: 'x@example.com' },
    });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['schedule', 'attachments.0.format', 'smtp.host']));
  });
});

describe('cronProblem', () => {
  it('accepts usual expressions and explains bad ones', () => {
    for (const ok of ['* * * * *', '*/15 6-18 * * 1-5', '0 7 1,15 jan-jun sun', '0 0 * * 7'])
      expect(cronProblem(ok), ok).toBeUndefined();
    expect(cronProblem('* * * *')).toMatch(/5 fields/);
    expect(cronProblem('0 24 * * *')).toMatch(/hour/);
    expect(cronProblem('0 0 0 * *')).toMatch(/day/);
    expect(cronProblem('*/0 * * * *')).toMatch(/stepping/);
    expect(cronProblem('5-1 * * * *')).toMatch(/larger than/);
  });
});

describe('placeholdersIn', () => {
  it('lists each name once', () => {
    expect(placeholdersIn('{{a}} {{ b }} {{a}} {a} {{1x}}')).toEqual(['a', 'b']);
  });
});

describe('parseReportsYaml', () => {
  it('reads the example with its environment, keeping the definition as written', async () => {
    const file = path.join(REPO, 'examples/reports/reports.yaml');
    const env = {
      REPORT_TO: 'team@example.com',
      REPORT_FROM: 'sluice@example.com',
      SMTP_HOST: 'smtp.example.com',
      SMTP_PASSWORD: 'secret',
    };
    const [report, ...rest] = parseReportsYaml(await readFile(file, 'utf8'), { file, env });
    expect(rest).toEqual([]);
    expect(report!.spec.name).toBe('visits-daily');
    expect(report!.spec.smtp).toMatchObject({ host: 'smtp.example.com', port: 587, password: 'secret' });
    expect(JSON.stringify(report!.definition)).not.toContain('secret');
    expect((report!.definition.smtp as Record<string, unknown>).password).toBe('${SMTP_PASSWORD:-}');
  });

  it('names missing variables and invalid reports', () => {
    const text =
      'reports:\n  - name: a\n    to: ${NOBODY}\n    subject: x\n    body: "{{y}}"\n    smtp: { host: h, from: f@x }\n';
    expect(() => parseReportsYaml(text, { file: 'r.yaml', env: {} })).toThrow(/NOBODY/);
    expect(() => parseReportsYaml(text, { file: 'r.yaml', env: { NOBODY: 'a@b.c' } })).toThrow(
      /reports\[0\]\.body: unknown placeholder \{\{y\}\}/,
    );
  });
});
