import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { errorMessage, isSluiceError, SluiceError } from '../core/errors.js';
import type { EmailNotifySpec, NotifySpec, WebhookNotifySpec } from '../core/notify-spec.js';
import type { Logger } from '../core/plugin.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../core/retry.js';
import { createMasker, namedSecrets, urlSecrets, type SecretPair } from '../core/secrets.js';
import type { SqlClient } from '../core/sql.js';
import { listRejects, readRejectPages, type RejectRow } from '../store/rejects.js';
import {
  composeNotice,
  INLINE_REJECTS,
  noticeFor,
  rejectCsvRecord,
  REJECTS_CSV_HEADER,
  type ComposedNotice,
  type Notice,
  type NoticeReject,
  type RunFacts,
} from './run-notice.js';
import { createSmtpTransport, smtpError, smtpSecret } from './smtp.js';

/** What became of one channel's notice. */
export interface NoticeResult {
  channel: 'email' | 'webhook';
  reason: Notice['reason'];
  sent: boolean;
  /** Tries made, the first included. */
  attempts: number;
  /** Why it was not sent (after the retries). */
  error?: string;
}

export interface SendNoticesOptions {
  logger: Logger;
  /** Tries per channel; {@link DEFAULT_RETRY} by default. */
  retry?: RetryPolicy;
  /** How long one webhook POST may take. */
  webhookTimeoutMs?: number;
  /** TLS options for the SMTP connection (tests pass `{ rejectUnauthorized: false }` for a self-signed server). */
  smtpTls?: ConnectionOptions;
}

/** Rejects read per query while the CSV is written: memory stays at one page. */
const PAGE_SIZE = 1000;
const WEBHOOK_TIMEOUT_MS = 15_000;

/**
 * Sends the notice a run calls for (see `noticeFor`) on every configured channel: an e-mail with the run
 * summary, the first rejects inline and all of them as `rejects-<runId>.csv`, and a webhook POST of
 * `{ text, summary, rejects }`. Each channel is retried; a channel that still fails is logged and reported
 * in the result. Never throws: a notice must not fail the run.
 */
export async function sendRunNotices(
  db: SqlClient,
  spec: { name: string; notify?: NotifySpec },
  summary: RunFacts,
  options: SendNoticesOptions,
): Promise<NoticeResult[]> {
  const notify = spec.notify;
  if (!notify) return [];
  const notice = noticeFor(summary, notify);
  if (!notice) return [];
  const { logger } = options;
  const channels: NoticeResult['channel'][] = [
    ...(notify.email ? (['email'] as const) : []),
    ...(notify.webhook ? (['webhook'] as const) : []),
  ];
  if (channels.length === 0) return [];

  let dir: string | undefined;
  try {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-notice-'));
    const csvName = `rejects-${summary.runId}.csv`;
    const csvPath = path.join(dir, csvName);
    let rejects: Collected;
    try {
      rejects = await collectRejects(db, summary.runId, csvPath);
    } catch (error) {
      // The notice still goes out, saying what it could not include.
      logger.error(`notice for run ${summary.runId}: the rejects could not be read: ${errorMessage(error)}`);
      rejects = { first: [], total: 0 };
    }
    const composed = composeNotice(
      notice,
      rejects.first,
      rejects.total,
      rejects.total > 0 ? csvName : undefined,
    );
    const attachment = rejects.total > 0 ? { filename: csvName, path: csvPath } : undefined;

    const results: NoticeResult[] = [];
    if (notify.email) {
      const email = notify.email;
      results.push(
        await attempt('email', notice, options, [smtpSecret(email)], () =>
          sendEmail(email, composed, attachment, options.smtpTls),
        ),
      );
    }
    if (notify.webhook) {
      const webhook = notify.webhook;
      const body = JSON.stringify({ text: composed.slack, summary, rejects: rejects.first });
      results.push(
        await attempt('webhook', notice, options, webhookSecrets(webhook), () =>
          postWebhook(webhook, body, options.webhookTimeoutMs ?? WEBHOOK_TIMEOUT_MS),
        ),
      );
    }
    return results;
  } catch (error) {
    logger.error(`notice for run ${summary.runId} could not be prepared: ${errorMessage(error)}`);
    return channels.map((channel) => ({
      channel,
      reason: notice.reason,
      sent: false,
      attempts: 0,
      error: errorMessage(error),
    }));
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

interface Collected {
  first: NoticeReject[];
  total: number;
}

const toNoticeReject = (row: RejectRow): NoticeReject => ({
  file: row.file,
  line: row.line,
  column: row.column_name,
  rule: row.rule,
  value: row.value,
  message: row.message,
  raw: row.raw,
});

/**
 * Writes every reject of the run to `csvPath` in the order they were written (paged by id: memory stays
 * at one page), and reads the first ones by file and line for the body, as `sluice rejects` lists them.
 */
async function collectRejects(db: SqlClient, runId: string, csvPath: string): Promise<Collected> {
  const out = createWriteStream(csvPath);
  const closed = once(out, 'close');
  let total = 0;
  try {
    if (!out.write(REJECTS_CSV_HEADER)) await once(out, 'drain');
    for await (const page of readRejectPages(db, runId, PAGE_SIZE)) {
      let chunk = '';
      for (const row of page) chunk += rejectCsvRecord(toNoticeReject(row));
      total += page.length;
      if (!out.write(chunk)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await closed;
  }
  const first = total === 0 ? [] : await listRejects(db, { runId, limit: INLINE_REJECTS });
  return { first: first.map(toNoticeReject), total };
}

/** Runs one channel with retries; logs and reports the outcome instead of throwing. */
async function attempt(
  channel: NoticeResult['channel'],
  notice: Notice,
  options: SendNoticesOptions,
  secrets: (string | SecretPair | undefined)[],
  send: () => Promise<string>,
): Promise<NoticeResult> {
  const { logger } = options;
  const redact = createMasker(secrets);
  let attempts = 0;
  try {
    const where = await withRetry(
      async () => {
        attempts++;
        return send();
      },
      {
        policy: options.retry ?? DEFAULT_RETRY,
        onRetry: (error, n, delayMs) =>
          logger.warn(
            `sending the ${channel} notice failed (attempt ${n}), retrying in ${delayMs} ms: ${redact(errorMessage(error))}`,
          ),
      },
    );
    logger.info(`${notice.reason} notice sent by ${channel} to ${redact(where)}`);
    return { channel, reason: notice.reason, sent: true, attempts };
  } catch (error) {
    const message = redact(errorMessage(error));
    logger.error(
      `the ${channel} notice of run ${notice.summary.runId} was not sent after ${attempts} ${attempts === 1 ? 'try' : 'tries'}: ${message}`,
      isSluiceError(error) ? { code: error.code } : undefined,
    );
    return { channel, reason: notice.reason, sent: false, attempts, error: message };
  }
}

/** Sends the e-mail; returns the recipients for the log. */
async function sendEmail(
  email: EmailNotifySpec,
  notice: ComposedNotice,
  attachment: { filename: string; path: string } | undefined,
  tls: ConnectionOptions | undefined,
): Promise<string> {
  const transport = await createSmtpTransport(email, tls);
  try {
    await transport.sendMail({
      from: email.from,
      to: email.to,
      ...(email.cc ? { cc: email.cc } : {}),
      subject: notice.subject,
      text: notice.text,
      html: notice.html,
      // Streamed from the file by nodemailer, again on every try.
      attachments: attachment ? [{ ...attachment, contentType: 'text/csv; charset=utf-8' }] : [],
    });
  } catch (error) {
    throw smtpError(error, email, 'Check notify.email (host, port, security, username and password).');
  } finally {
    transport.close();
  }
  return [...email.to, ...(email.cc ?? [])].join(', ');
}

/** A webhook's secrets: its path (a Slack webhook's path is its key), keys in its query, secret headers. */
function webhookSecrets(webhook: WebhookNotifySpec): string[] {
  const url = new URL(webhook.url);
  return [
    ...(url.pathname.length > 1 ? [url.pathname] : []),
    ...urlSecrets(url),
    ...namedSecrets(webhook.headers),
  ];
}

/** POSTs the JSON body; returns the URL's origin for the log (the path of a webhook is often a secret). */
async function postWebhook(webhook: WebhookNotifySpec, body: string, timeoutMs: number): Promise<string> {
  const origin = new URL(webhook.url).origin;
  let response: Response;
  try {
    response = await fetch(webhook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...webhook.headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause ? `${errorMessage(error)} (${errorMessage(cause)})` : errorMessage(error);
    throw new SluiceError('NOTIFY_FAILED', `webhook ${origin}: ${detail}`, { cause: error, retryable: true });
  }
  await response.body?.cancel().catch(() => undefined);
  if (!response.ok) {
    const status = response.status;
    throw new SluiceError('NOTIFY_FAILED', `webhook ${origin} answered ${status} ${response.statusText}`, {
      retryable: status >= 500 || status === 408 || status === 429,
    });
  }
  return origin;
}
