import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { ConfigReader } from '../core/config-file.js';
import { errorMessage, SluiceError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import { PLACEHOLDER, reportSchema, reportsFileSchema, type ReportSpec } from '../core/report-spec.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../core/retry.js';
import type { Database } from '../store/database.js';
import {
  getReportDefinition,
  listReports,
  recordReportSend,
  runReportQuery,
  saveReport,
  type ReportSendStatus,
} from '../store/reports.js';
import { escapeHtml } from './run-notice.js';
import { createSmtpTransport, redactSecret, smtpError } from './smtp.js';
import { readConfigText } from '../core/config-text.js';

type Env = Record<string, string | undefined>;

/** A report read from YAML: its definition as written (environment references kept) and validated. */
export interface LoadedReport {
  /** As written: this is what `sluice.reports` keeps, so no secret from the environment is stored. */
  definition: Record<string, unknown>;
  /** Validated with the environment of the loading process. */
  spec: ReportSpec;
}

/** Interpolates and validates one stored or written definition. Throws CONFIG_INVALID or ENV_MISSING. */
export function parseReportDefinition(definition: unknown, env: Env, where: string): ReportSpec {
  const reader = ConfigReader.fromValue(definition, { file: where, env, keepPaths: true });
  const spec = reader.check(reportSchema, reader.value, []);
  // A saved definition is wrong when it was loaded by an older Sluice (a key renamed since).
  reader.finish('the report is invalid', {
    hint: 'Fix it in its reports file and load it again with `sluice report load FILE.yaml`.',
  });
  return spec!;
}

/**
 * Reads a reports file (`reports:` a list of reports), interpolating `${VAR}` references from `env`.
 * Throws CONFIG_INVALID listing every problem of every report with its line, or ENV_MISSING.
 */
export function parseReportsYaml(text: string, options: { file: string; env: Env }): LoadedReport[] {
  const reader = ConfigReader.fromText(text, { file: options.file, env: options.env });
  const file = reader.check(reportsFileSchema, reader.value, []);
  const raw = reader.raw as { reports?: unknown[] };
  const loaded: LoadedReport[] = [];
  const names = new Set<string>();
  for (const [i, value] of (file?.reports ?? []).entries()) {
    const spec = reader.check(reportSchema, value, ['reports', i]);
    if (!spec) continue;
    if (names.has(spec.name))
      reader.add({ path: ['reports', i, 'name'], message: `${spec.name} is given twice` });
    names.add(spec.name);
    loaded.push({ definition: raw.reports![i] as Record<string, unknown>, spec });
  }
  reader.finish('the reports are invalid');
  return loaded;
}

/** {@link parseReportsYaml} on a file. */
export async function readReportsFile(file: string, env: Env): Promise<LoadedReport[]> {
  const text = await readConfigText(file);
  return parseReportsYaml(text, { file, env });
}

/** Inserts or replaces the reports in `sluice.reports`, in one transaction. */
export async function saveReports(db: Database, reports: readonly LoadedReport[]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const { definition, spec } of reports)
      await saveReport(tx, {
        name: spec.name,
        definition,
        schedule: spec.schedule ?? null,
        active: spec.active,
      });
  });
}

/** CONFIG_NOT_FOUND for a report name nobody loaded, naming the ones that exist. */
async function unknownReport(db: Database, name: string): Promise<SluiceError> {
  const known = (await listReports(db)).map((r) => r.name);
  return new SluiceError('CONFIG_NOT_FOUND', `no report is named ${name}`, {
    hint: known.length
      ? `The loaded reports are: ${known.join(', ')}.`
      : 'No report is loaded yet: load them with `sluice report load FILE.yaml`.',
  });
}

export interface SendReportOptions {
  logger: Logger;
  /** Write the message as an `.eml` file into `outDir` instead of sending it. */
  dryRun?: boolean;
  /** Where a dry run writes its `.eml` (the working folder by default). */
  outDir?: string;
  /** Where `${VAR}` references of the stored definition are read (process.env by default). */
  env?: Env;
  /** How long one query may run. */
  statementTimeoutMs?: number;
  /** Rows read per query at most; the rest are left out (and a warning logged). */
  maxRows?: number;
  /** Tries for the SMTP send; {@link DEFAULT_RETRY} by default. */
  retry?: RetryPolicy;
  /** TLS options for the SMTP connection. */
  smtpTls?: ConnectionOptions;
  /** The send time (for `{timestamp}`): now by default. */
  now?: Date;
}

/** What became of one send: also recorded in `sluice.report_sends`. */
export interface ReportSendResult {
  id: string;
  status: ReportSendStatus;
  /** Rows per query and per attachment file; null when its query failed. */
  rowsPerQuery: Record<string, number | null>;
  /** The failed queries and, when status is failed, why the message was not sent. */
  error?: string;
  emlPath?: string;
  attachments: string[];
}

const STATEMENT_TIMEOUT_MS = 60_000;
const MAX_ROWS = 100_000;

type Row = Record<string, unknown>;
type QueryOutcome = { ok: true; rows: Row[] } | { ok: false; error: string };

/**
 * Sends one report from `sluice.reports`: runs its queries read-only, fills the body's placeholders with
 * HTML tables (a failing query leaves an error note instead, and the report still goes out), builds its
 * CSV and XLSX attachments, and mails it (or, in a dry run, writes the `.eml`). Every send is recorded in
 * `sluice.report_sends`. Throws only when the report is unknown or invalid; a failed SMTP send is recorded
 * and returned with status `failed`.
 */
export async function sendReport(
  db: Database,
  name: string,
  options: SendReportOptions,
): Promise<ReportSendResult> {
  const { logger } = options;
  const definition = await getReportDefinition(db, name);
  if (definition === undefined) throw await unknownReport(db, name);
  const spec = parseReportDefinition(definition, options.env ?? process.env, `report ${name}`);
  const now = options.now ?? new Date();
  const run = (sql: string, label: string) => runReadOnly(db, sql, label, options);

  const outcomes = new Map<string, QueryOutcome>();
  const rowsPerQuery: Record<string, number | null> = {};
  const failures: string[] = [];
  for (const [queryName, sql] of Object.entries(spec.queries)) {
    const outcome = await run(sql, `query ${queryName}`);
    outcomes.set(queryName, outcome);
    rowsPerQuery[queryName] = outcome.ok ? outcome.rows.length : null;
    if (!outcome.ok) failures.push(`query ${queryName} failed: ${outcome.error}`);
  }

  const attachments: { filename: string; content: Buffer; contentType: string }[] = [];
  const attachmentNotes: string[] = [];
  const stamp = timestamp(now);
  for (const attachment of spec.attachments) {
    const filename = attachment.fileName.replaceAll('{timestamp}', stamp);
    const outcome = await run(attachment.sql, `attachment ${filename}`);
    rowsPerQuery[filename] = outcome.ok ? outcome.rows.length : null;
    if (!outcome.ok) {
      const note = `attachment ${filename} failed: ${outcome.error}`;
      failures.push(note);
      attachmentNotes.push(`<p class="error">${escapeHtml(note)}</p>`);
      continue;
    }
    attachments.push(
      attachment.format === 'csv'
        ? { filename, content: Buffer.from(toCsv(outcome.rows)), contentType: 'text/csv; charset=utf-8' }
        : {
            filename,
            content: await toXlsx(outcome.rows),
            contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
          },
    );
  }

  const subject = spec.subject.replace(PLACEHOLDER, (_m, key: string) => {
    const outcome = outcomes.get(key);
    if (!outcome?.ok) return `(query ${key} failed)`;
    const first = outcome.rows[0];
    return first ? cellText(Object.values(first)[0]) : '';
  });
  const html =
    spec.body.replace(PLACEHOLDER, (_m, key: string) => {
      const outcome = outcomes.get(key)!;
      return outcome.ok
        ? htmlTable(outcome.rows)
        : `<p class="error">${escapeHtml(`query ${key} failed: ${outcome.error}`)}</p>`;
    }) + attachmentNotes.join('\n');

  const recipients = { to: spec.to, cc: spec.cc ?? [], bcc: spec.bcc ?? [] };
  const message = {
    from: spec.smtp.from,
    to: spec.to,
    ...(spec.cc ? { cc: spec.cc } : {}),
    ...(spec.bcc ? { bcc: spec.bcc } : {}),
    subject,
    html,
    attachments,
    date: now,
  };

  let status: ReportSendResult['status'];
  let sendError: string | undefined;
  let emlPath: string | undefined;
  if (options.dryRun) {
    const nodemailer = await import('nodemailer');
    const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
    const info = await transport.sendMail(message);
    const dir = path.resolve(options.outDir ?? '.');
    await mkdir(dir, { recursive: true });
    emlPath = path.join(dir, `${spec.name}-${stamp}.eml`);
    await writeFile(emlPath, info.message as Buffer);
    status = 'dry_run';
    logger.info(`report ${spec.name}: dry run, the message is in ${emlPath}`);
  } else {
    const hint = `Check the smtp settings of report ${spec.name} (host, port, security, username and password).`;
    try {
      await withRetry(
        async () => {
          const transport = await createSmtpTransport(spec.smtp, options.smtpTls);
          try {
            await transport.sendMail(message);
          } catch (error) {
            throw smtpError(error, spec.smtp, hint);
          } finally {
            transport.close();
          }
        },
        {
          policy: options.retry ?? DEFAULT_RETRY,
          onRetry: (error, n, delayMs) =>
            logger.warn(
              `sending report ${spec.name} failed (attempt ${n}), retrying in ${delayMs} ms: ${errorMessage(error)}`,
            ),
        },
      );
      status = 'sent';
      logger.info(`report ${spec.name} sent to ${[...recipients.to, ...recipients.cc].join(', ')}`);
    } catch (error) {
      status = 'failed';
      sendError = redactSecret(errorMessage(error), spec.smtp.password, spec.smtp.username);
      logger.error(`report ${spec.name} was not sent: ${sendError}`);
    }
  }

  const error = [...(sendError ? [sendError] : []), ...failures].join('\n') || undefined;
  const id = await recordReportSend(db, {
    report: spec.name,
    sentAt: now,
    recipients,
    rowsPerQuery,
    status,
    error: error ?? null,
    emlPath: emlPath ?? null,
  });
  return {
    id,
    status,
    rowsPerQuery,
    ...(error ? { error } : {}),
    ...(emlPath ? { emlPath } : {}),
    attachments: attachments.map((a) => a.filename),
  };
}

/** Runs one report query read-only (see {@link runReportQuery}); a failure is an outcome, not a throw. */
async function runReadOnly(
  db: Database,
  sql: string,
  label: string,
  options: SendReportOptions,
): Promise<QueryOutcome> {
  const maxRows = options.maxRows ?? MAX_ROWS;
  try {
    const rows = await runReportQuery(db, sql, {
      maxRows,
      timeoutMs: options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS,
    });
    if (rows.length >= maxRows)
      options.logger.warn(`${label} has more than ${maxRows} rows: only the first ${maxRows} are used`);
    return { ok: true, rows };
  } catch (error) {
    options.logger.warn(`${label} failed: ${errorMessage(error)}`);
    return { ok: false, error: errorMessage(error) };
  }
}

/** `yyyyMMdd_HHmmss` in local time. */
export function timestamp(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${p(date.getFullYear(), 4)}${p(date.getMonth() + 1)}${p(date.getDate())}_` +
    `${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`
  );
}

/** A value as text: null is empty, dates ISO, bytes `\x…` hex, JSON values as JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value as string | number | boolean | bigint);
}

/** Rows as an HTML table with a header row; every value escaped. */
export function htmlTable(rows: readonly Row[]): string {
  const first = rows[0];
  if (!first) return '<p class="empty">(no rows)</p>';
  const columns = Object.keys(first);
  return [
    '<table border="1" cellspacing="0" cellpadding="3">',
    `<tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`,
    ...rows.map(
      (row) => `<tr>${columns.map((c) => `<td>${escapeHtml(cellText(row[c]))}</td>`).join('')}</tr>`,
    ),
    '</table>',
  ].join('\n');
}

/** Rows as CSV (RFC 4180: CRLF, fields quoted when they hold `,`, `"`, CR or LF), with a header. */
export function toCsv(rows: readonly Row[]): string {
  const first = rows[0];
  if (!first) return '';
  const columns = Object.keys(first);
  const field = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  return [columns, ...rows.map((row) => columns.map((c) => cellText(row[c])))]
    .map((record) => record.map(field).join(',') + '\r\n')
    .join('');
}

/** Rows as an XLSX workbook of one sheet with a header row; numbers, booleans and dates keep their type. */
async function toXlsx(rows: readonly Row[]): Promise<Buffer> {
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('data');
  const first = rows[0];
  if (first) {
    const columns = Object.keys(first);
    sheet.addRow(columns);
    for (const row of rows)
      sheet.addRow(
        columns.map((c) => {
          const v = row[c];
          if (v === null || v === undefined) return null;
          if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' || v instanceof Date)
            return v;
          return cellText(v);
        }),
      );
  }
  return Buffer.from(await workbook.xlsx.writeBuffer());
}
