import { z } from 'zod';

const addresses = z
  .union([z.string().min(3), z.array(z.string().min(3)).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]));

/** Where a pipeline's notices go and when. Validated with the pipeline; sent by `src/notify/`. */
export const notifySchema = z
  .strictObject({
    on: z
      .array(z.enum(['failure', 'rejects']))
      .default(['failure', 'rejects'])
      .describe(
        'failure: the run failed; rejects: the run rejected at least rejectThreshold rows or any file.',
      ),
    rejectThreshold: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Rejected rows (or rejected files) that make a `rejects` notice.'),
    email: z
      .strictObject({
        host: z.string().min(1).describe('SMTP server.'),
        port: z.coerce
          .number()
          .int()
          .min(1)
          .max(65535)
          .default(587)
          .describe('SMTP port (587 STARTTLS, 465 TLS).'),
        security: z
          .enum(['starttls', 'tls', 'none'])
          .default('starttls')
          .describe(
            'starttls: upgrade after connecting (587); tls: TLS from the start (465); none: plain (tests only).',
          ),
        user: z.string().optional().describe('Login name.'),
        password: z.string().optional().describe('Password (secret: take it from the environment).'),
        from: z.string().min(3).describe('Sender address.'),
        to: addresses.describe('Recipients.'),
        cc: addresses.optional().describe('Copy recipients.'),
        subjectPrefix: z.string().default('[sluice]').describe('Put before every subject.'),
      })
      .optional()
      .describe('Send notices by e-mail.'),
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
  .refine((n) => n.email || n.webhook, { message: 'give email, webhook or both' });

export type NotifySpec = z.output<typeof notifySchema>;
