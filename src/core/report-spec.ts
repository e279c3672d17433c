import { Cron } from 'croner';
import { z } from 'zod';
import { notifySchema, type SmtpSettings } from './notify-spec.js';
import { withRenamedKeys } from './renamed-keys.js';

/** `{{name}}` in a report's subject or body; `{{ name }}` works too. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The placeholder names in `template`, in order, each once. */
export function placeholdersIn(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

const addresses = z
  .union([z.string().min(3), z.array(z.string().min(3)).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]));

// The connection settings of `notify.email` (one definition of host, port, security, username, password
// and from), with host and from required: a report always sends.
const emailShape = notifySchema.in.shape.email.unwrap();
const smtpSchema = withRenamedKeys(
  'reportSmtp',
  emailShape
    .pick({ port: true, security: true, username: true, password: true })
    .extend({
      host: emailShape.shape.host.unwrap(),
      from: emailShape.shape.from.unwrap(),
    })
    .describe('The SMTP server and sender (the settings of notify.email).'),
);

/**
 * Why a cron expression (minute hour day-of-month month day-of-week; croner's syntax) is not valid, or
 * undefined when it is. croner is what the scheduler will run the expression with.
 */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5)
    return `a cron schedule has 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}`;
  try {
    new Cron(expression, { paused: true });
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^CronPattern: /, '');
  }
}

/** True for an IANA time zone name this runtime knows (`Europe/Madrid`, `UTC`). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const queryName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a query name is letters, digits and _ (it is used as {{name}})');

/** One report: who gets it, what it says, what it attaches, and when. Validated by {@link reportSchema}. */
export interface ReportSpec {
  name: string;
  description?: string;
  to: string[];
  cc?: string[];
  bcc?: string[];
  subject: string;
  body: string;
  queries: Record<string, string>;
  attachments: ReportAttachmentSpec[];
  schedule?: string;
  /** The IANA time zone the schedule is read in (the local one of the sending process by default). */
  timezone?: string;
  active: boolean;
  smtp: ReportSmtpSpec;
}

export interface ReportAttachmentSpec {
  fileName: string;
  format: 'csv' | 'xlsx';
  sql: string;
}

/** The SMTP server and sender of a report. */
export type ReportSmtpSpec = SmtpSettings;

/**
 * A report as written in YAML or kept in `sluice.reports`. Every `{{placeholder}}` of the subject and
 * the body must name a query: in the body it becomes the query's rows as an HTML table, in the subject
 * the first value of its first row. Refuses an unknown placeholder, naming it.
 */
export const reportSchema: z.ZodType<ReportSpec, unknown> = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a report name is letters, digits, _, . and -')
      .describe('The name `sluice report send NAME` takes.'),
    description: z.string().optional().describe('What the report is for.'),
    to: addresses.describe('Recipients.'),
    cc: addresses.optional().describe('Copy recipients.'),
    bcc: addresses.optional().describe('Blind copy recipients.'),
    subject: z
      .string()
      .min(1)
      .describe('The subject; {{query}} is replaced by the first value of the first row of that query.'),
    body: z
      .string()
      .min(1)
      .describe(
        'The HTML body; {{query}} is replaced by the rows of that query as an HTML table (values ' +
          'escaped), or by an error note when the query fails.',
      ),
    queries: z
      .record(queryName, z.string().min(1))
      .default({})
      .describe('SQL per placeholder name; each runs read-only.'),
    attachments: z
      .array(
        z.strictObject({
          fileName: z
            .string()
            .min(1)
            .regex(/^[^/\\]+$/, 'a file name, not a path')
            .describe('The attachment name; {timestamp} becomes the send time as yyyyMMdd_HHmmss.'),
          format: z.enum(['csv', 'xlsx']).describe('csv (RFC 4180, UTF-8) or xlsx (one sheet).'),
          sql: z.string().min(1).describe('The query whose rows the file holds (read-only).'),
        }),
      )
      .default([])
      .describe('Files produced by SQL queries.'),
    schedule: z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        const problem = value === undefined ? undefined : cronProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe('When to send, as a 5-field cron expression (minute hour day month weekday).'),
    timezone: z
      .string()
      .refine(isTimeZone, 'not a time zone: give an IANA name such as America/Mexico_City or UTC')
      .optional()
      .describe('The time zone of the schedule (IANA name); the local time zone by default.'),
    active: z.boolean().default(true).describe('An inactive report is kept but not sent on schedule.'),
    smtp: smtpSchema,
  })
  .superRefine((report, ctx) => {
    for (const field of ['subject', 'body'] as const) {
      for (const name of placeholdersIn(report[field])) {
        if (!Object.hasOwn(report.queries, name))
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: `unknown placeholder {{${name}}}: no query is named ${name}`,
          });
      }
    }
  });

/** A reports file: `reports:`, a list of reports (each checked with {@link reportSchema}). */
export const reportsFileSchema = z.strictObject({
  reports: z
    .array(z.unknown(), { error: 'a reports file has `reports:`, a list of reports' })
    .min(1, 'a reports file has `reports:`, a list of reports'),
});
