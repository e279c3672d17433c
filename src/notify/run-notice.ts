import type { NotifySpec } from '../core/notify-spec.js';
import type { Reject } from '../core/records.js';
import { plural } from '../core/text.js';
import type { FileCounts, RunSummary } from '../core/run-summary.js';

/** What a notice says about a run: the parts of a run summary it shows. */
export type RunFacts = FileCounts &
  Pick<
    RunSummary,
    'runId' | 'pipeline' | 'status' | 'asOf' | 'dryRun' | 'resumed' | 'durationMs' | 'error' | 'published'
  > & {
    files: Pick<RunSummary['files'][number], 'name' | 'status' | 'reason' | 'rowsRejected'>[];
  };

/** Rejects shown in the body of a notice; all of them go into the CSV attachment. */
export const INLINE_REJECTS = 20;

/** One rejected row (or file) as a notice shows it. */
export type NoticeReject = Omit<Reject, 'origin'> & { file: string };

/** A notice that is due for a run, before its rejects are filled in by {@link composeNotice}. */
export interface Notice {
  reason: 'failure' | 'rejects' | 'version';
  /** With the e-mail's subject prefix (`[sluice]` by default). */
  subject: string;
  /** The summary part of the plain-text body. */
  text: string;
  /** The summary part of the HTML body (values escaped). */
  html: string;
  /** The summary part of a Slack-compatible message. */
  slack: string;
  summary: RunFacts;
}

/** A notice with its rejects: ready to send. */
export interface ComposedNotice {
  subject: string;
  text: string;
  html: string;
  /** Slack-compatible `text` of a webhook post (mrkdwn, `&<>` escaped). */
  slack: string;
}

/**
 * Whether a run calls for a notice under `notify`, and its summary parts. Pure. A failed run makes a
 * `failure` notice when `on` has failure; otherwise `rejects` notices come when the run rejected at least
 * `rejectThreshold` rows or any whole file. A dry run (nothing committed) never makes a notice.
 */
export function noticeFor(summary: RunFacts, notify: NotifySpec): Notice | undefined {
  if (summary.dryRun) return undefined;
  const failed = summary.status === 'failed' && notify.on.includes('failure');
  const rejected =
    notify.on.includes('rejects') &&
    (summary.rowsRejected >= notify.rejectThreshold || summary.filesRejected > 0);
  const published = notify.on.includes('version') ? (summary.published ?? []) : [];
  if (!failed && !rejected && published.length === 0) return undefined;

  const prefix = notify.email?.subjectPrefix ?? '[sluice]';
  const title = failed
    ? `${summary.pipeline} failed`
    : rejected
      ? `${summary.pipeline}: ${rejectsPhrase(summary)}`
      : `${summary.pipeline}: ${published.map((p) => `version ${p.version} of ${p.dataset}`).join(', ')}`;
  const subject = prefix ? `${prefix} ${title}` : title;

  const facts: [string, string][] = [
    ['Pipeline', summary.pipeline],
    ['Run', summary.runId],
    ['As of', summary.asOf],
    ['Status', summary.status + (summary.resumed ? ' (resumed)' : '')],
    [
      'Files',
      `${summary.filesLoaded} loaded, ${summary.filesSkipped} skipped, ${summary.filesRejected} rejected`,
    ],
    ['Rows', `${summary.rowsRead} read, ${summary.rowsLoaded} loaded, ${summary.rowsRejected} rejected`],
    ['Duration', `${(summary.durationMs / 1000).toFixed(1)} s`],
  ];
  if (summary.error) facts.push(['Error', `${summary.error.code}: ${summary.error.message}`]);
  for (const p of published) {
    facts.push(['Dataset', p.dataset], ['Version', `${p.version} (${plural(p.rows, 'row')})`]);
    facts.push(['Manifest', p.manifest]);
  }
  const rejectedFiles = summary.files
    .filter((f) => f.status === 'rejected')
    .map((f) => [f.name, f.reason ?? ''] as const);

  const lead = failed
    ? `Run ${summary.runId} of ${summary.pipeline} failed.`
    : rejected || published.length === 0
      ? `Run ${summary.runId} of ${summary.pipeline} ${summary.status}: ${rejectsPhrase(summary)}.`
      : `Run ${summary.runId} of ${summary.pipeline} published ${published.map((p) => `version ${p.version} of ${p.dataset}`).join(', ')}.`;
  const width = Math.max(...facts.map(([k]) => k.length)) + 2;
  const text = [
    lead,
    '',
    ...facts.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`),
    ...(rejectedFiles.length > 0
      ? ['', 'Rejected files:', ...rejectedFiles.map(([n, r]) => `  ${n}: ${r}`)]
      : []),
  ].join('\n');

  const html = [
    `<p>${escapeHtml(lead)}</p>`,
    '<table>',
    ...facts.map(
      ([k, v]) =>
        `<tr><th align="left">${escapeHtml(k)}</th><td>${k === 'Error' ? `<pre>${escapeHtml(v)}</pre>` : escapeHtml(v)}</td></tr>`,
    ),
    '</table>',
    ...(rejectedFiles.length > 0
      ? [
          '<p>Rejected files:</p>',
          '<ul>',
          ...rejectedFiles.map(([n, r]) => `<li>${escapeHtml(n)}: ${escapeHtml(r)}</li>`),
          '</ul>',
        ]
      : []),
  ].join('\n');

  const slack = [
    `*${escapeSlack(subject)}*`,
    ...facts.map(([k, v]) => `${k}: ${escapeSlack(v)}`),
    ...rejectedFiles.map(([n, r]) => `Rejected file ${escapeSlack(n)}: ${escapeSlack(r)}`),
  ].join('\n');

  return {
    reason: failed ? 'failure' : rejected ? 'rejects' : 'version',
    subject,
    text,
    html,
    slack,
    summary,
  };
}

/** "6 rows rejected in 2 files", "1 file rejected", "6 rows rejected in 2 files, 1 file rejected whole". */
function rejectsPhrase(s: RunFacts): string {
  const withRows = s.files.filter((f) => f.rowsRejected > 0).length;
  const rows =
    s.rowsRejected > 0
      ? `${plural(s.rowsRejected, 'row')} rejected${withRows > 0 ? ` in ${plural(withRows, 'file')}` : ''}`
      : '';
  if (s.filesRejected === 0) return rows || 'no rejects';
  const files = `${plural(s.filesRejected, 'file')} rejected${rows ? ' whole' : ''}`;
  return rows ? `${rows}, ${files}` : files;
}

/**
 * The notice with its first rejects inline (at most {@link INLINE_REJECTS}). `total` is how many rejects
 * the run has in all; `attachment` names the CSV that holds them, when there is one.
 */
export function composeNotice(
  notice: Notice,
  rejects: readonly NoticeReject[],
  total: number,
  attachment?: string,
): ComposedNotice {
  const shown = rejects.slice(0, INLINE_REJECTS);
  if (shown.length === 0 && total === 0) {
    return { subject: notice.subject, text: notice.text + '\n', html: notice.html, slack: notice.slack };
  }
  const heading =
    total > shown.length
      ? `The first ${shown.length} of ${total} rejects`
      : `${total === 1 ? 'The reject' : `All ${total} rejects`}`;
  const where = attachment ? ` (all of them in ${attachment})` : '';
  const text = [notice.text, '', `${heading}${where}:`, ...shown.map((r) => `  ${rejectLine(r)}`), ''].join(
    '\n',
  );
  const cell = (v: string | number | null) => `<td>${v === null ? '' : escapeHtml(String(v))}</td>`;
  const html = [
    notice.html,
    `<p>${escapeHtml(heading + where)}:</p>`,
    '<table border="1" cellspacing="0" cellpadding="3">',
    '<tr><th>file</th><th>line</th><th>column</th><th>rule</th><th>value</th><th>message</th></tr>',
    ...shown.map(
      (r) =>
        `<tr>${cell(r.file)}${cell(r.line)}${cell(r.column)}${cell(r.rule)}${cell(r.value)}${cell(r.message)}</tr>`,
    ),
    '</table>',
  ].join('\n');
  const slack = [
    notice.slack,
    `${escapeSlack(heading)}:`,
    '```',
    ...shown.map((r) => escapeSlack(rejectLine(r).replaceAll('```', "'''"))),
    '```',
  ].join('\n');
  return { subject: notice.subject, text, html, slack };
}

/** `report_1.txt:5 email (email) "bad-email": not an e-mail address` */
export function rejectLine(r: NoticeReject): string {
  const at = r.line === null ? r.file : `${r.file}:${r.line}`;
  const column = r.column === null ? '' : ` ${r.column}`;
  const value = r.value === null ? '' : ` ${JSON.stringify(r.value)}`;
  return `${at}${column} (${r.rule})${value}: ${r.message}`;
}

/** The header of the rejects CSV. */
export const REJECTS_CSV_HEADER = 'file,line,column,rule,value,message,raw\r\n';

/** One reject as a CSV record (RFC 4180: CRLF, fields quoted when they hold `,`, `"`, CR or LF). */
export function rejectCsvRecord(r: NoticeReject): string {
  return (
    [r.file, r.line, r.column, r.rule, r.value, r.message, r.raw]
      .map((v) => csvField(v === null ? '' : String(v)))
      .join(',') + '\r\n'
  );
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Slack's mrkdwn needs only these three escaped: https://api.slack.com/reference/surfaces/formatting#escaping */
function escapeSlack(value: string): string {
  return value.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}
