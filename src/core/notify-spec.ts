import { z } from 'zod';
import { withRenamedKeys } from './renamed-keys.js';
import { securityOption, type Security } from './tls-option.js';

const addresses = z
  .union([z.string().min(3), z.array(z.string().min(3)).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]));

const emailSchema = withRenamedKeys(
  'notifyEmail',
  z.strictObject({
    host: z
      .string()
      .min(1)
      .optional()
      .describe(
        'SMTP server. An email block with neither host nor to (say, both from `${VAR:-}` references that ' +
          'came out empty) is not configured: no mail is sent. Give both or neither.',
      ),
    port: z.coerce
      .number()
      .int()
      .min(1)
      .max(65535)
      .default(587)
      .describe('SMTP port (587 STARTTLS, 465 TLS).'),
    security: securityOption({ starttls: 587, tls: 465 }, 'Default: starttls.').default('starttls'),
    username: z.string().optional().describe('Login name.'),
    password: z.string().optional().describe('Password (secret: take it from the environment).'),
    from: z.string().min(3).optional().describe('Sender address (required when the block is configured).'),
    to: addresses.optional().describe('Recipients (see host: without both, the block is not configured).'),
    cc: addresses.optional().describe('Copy recipients.'),
    subjectPrefix: z.string().default('[sluice]').describe('Put before every subject.'),
  }),
)
  .optional()
  .describe('Send notices by e-mail.');

/** How to reach an SMTP server: the connection part of `notify.email` and of a report's `smtp`. */
export interface SmtpConnection {
  host: string;
  port: number;
  security: Security;
  username?: string;
  password?: string;
}

/** How Sluice sends mail: the SMTP server and the sender (notices and reports alike). */
export interface SmtpSettings extends SmtpConnection {
  from: string;
}

/** A configured e-mail channel: host, sender and recipients are all there. */
export interface EmailNotifySpec extends SmtpSettings {
  to: string[];
  cc?: string[];
  subjectPrefix: string;
}

/** A webhook channel: a JSON POST with a Slack-compatible `text`. */
export interface WebhookNotifySpec {
  url: string;
  headers: Record<string, string>;
}

/**
 * The validated `notify:` section. `email` is set only when it is configured (host and recipients
 * given); a section whose only channel is an unconfigured email block sends nothing.
 */
export interface NotifySpec {
  on: ('failure' | 'rejects' | 'version')[];
  rejectThreshold: number;
  email?: EmailNotifySpec;
  webhook?: WebhookNotifySpec;
}

/** Where a pipeline's notices go and when. Validated with the pipeline; sent by `src/notify/`. */
export const notifySchema = z
  .strictObject({
    on: z
      .array(z.enum(['failure', 'rejects', 'version']))
      .default(['failure', 'rejects'])
      .describe(
        'failure: the run failed; rejects: the run rejected at least rejectThreshold rows or any file; version: the run published a new dataset version (the lake loader).',
      ),
    rejectThreshold: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Rejected rows (or rejected files) that make a `rejects` notice.'),
    email: emailSchema,
    webhook: z
      .strictObject({
        url: z
          .string()
          .url()
          .describe('Receives a JSON POST with a Slack-compatible `text` and the run summary.'),
        headers: z
          .record(z.string(), z.string())
          .default({})
          .describe('Extra headers (such as an authorization).'),
      })
      .optional()
      .describe('Post notices to a webhook (Slack, Teams, Mattermost or your own).'),
  })
  .superRefine((n, ctx) => {
    if (!n.email && !n.webhook) {
      ctx.addIssue({ code: 'custom', message: 'give email, webhook or both' });
      return;
    }
    const email = n.email;
    if (!email || (email.host === undefined && email.to === undefined)) return;
    if (email.host === undefined)
      ctx.addIssue({ code: 'custom', path: ['email', 'host'], message: 'give host with to (or neither)' });
    if (email.to === undefined)
      ctx.addIssue({ code: 'custom', path: ['email', 'to'], message: 'give to with host (or neither)' });
    if (email.from === undefined)
      ctx.addIssue({ code: 'custom', path: ['email', 'from'], message: 'give the sender address' });
  })
  .transform(({ email, ...rest }): NotifySpec => {
    // Checked above: a block with host has to and from; one with neither is not configured.
    if (!email?.host || !email.to || !email.from) return rest;
    const { host, to, from, ...more } = email;
    const configured: EmailNotifySpec = { ...more, host, to, from };
    return { ...rest, email: configured };
  });
