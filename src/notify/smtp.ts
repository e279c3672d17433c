import type { ConnectionOptions } from 'node:tls';
import type { Transporter } from 'nodemailer';
import { errorMessage, SluiceError } from '../core/errors.js';
import { createMasker } from '../core/secrets.js';
import type { SmtpConnection } from '../core/notify-spec.js';

/**
 * A nodemailer transport for `settings` (imported lazily). `tls` adds TLS options (tests pass
 * `{ rejectUnauthorized: false }` for a self-signed server). The caller closes it.
 */
export async function createSmtpTransport(
  settings: SmtpConnection,
  tls?: ConnectionOptions,
): Promise<Transporter> {
  const nodemailer = await import('nodemailer');
  return nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.security === 'tls',
    requireTLS: settings.security === 'starttls',
    ignoreTLS: settings.security === 'none',
    ...(settings.username ? { auth: { user: settings.username, pass: settings.password ?? '' } } : {}),
    ...(tls ? { tls } : {}),
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
}

/**
 * Nodemailer's error as a SluiceError: refused logins and permanent (5xx) answers are not retried. The
 * password, if it shows in the message, is masked.
 */
export function smtpError(error: unknown, settings: SmtpConnection, hint: string): SluiceError {
  const { code, responseCode } = (error ?? {}) as { code?: string; responseCode?: number };
  const permanent = code === 'EAUTH' || (responseCode !== undefined && responseCode >= 500);
  const message = redactSecret(errorMessage(error), settings.password, settings.username);
  return new SluiceError('NOTIFY_FAILED', `SMTP ${settings.host}:${settings.port}: ${message}`, {
    cause: error,
    retryable: !permanent,
    hint,
  });
}

/** `text` with the password masked in every encoding (with `username`: AUTH PLAIN's base64 of both too). */
export function redactSecret(text: string, secret: string | undefined, username?: string): string {
  return createMasker([smtpSecret({ password: secret, username })])(text);
}

/** The SMTP password as the masker takes it: with the username, so AUTH PLAIN/LOGIN encodings are masked too. */
export function smtpSecret(settings: { username?: string | undefined; password?: string | undefined }) {
  if (!settings.password) return undefined;
  return settings.username ? { username: settings.username, password: settings.password } : settings.password;
}
