// One run: its summary, step timings as bars, live progress while it runs, its files with their ledger
// status, its step log (paged) and its rejects (paged, searched by file, line and rule, as CSV).

import { act, runNow } from './actions.js';
import { apiDownload, apiGet, errorText } from './api.js';
import { stepBars } from './charts.js';
import { bytes, count, duration, fill, h, link, statusBadge, table, when } from './dom.js';
import { notify, type Page } from './page.js';
import type { LogEntry, Progress, Reject, RunDetail } from './types.js';

const REJECTS_PAGE = 50;
const LOG_PAGE = 200;

export async function runPage(page: Page, id: string) {
  const run = await apiGet<RunDetail>(`/api/runs/${encodeURIComponent(id)}`);
  if (page.left) return;
  const base = `/api/runs/${encodeURIComponent(run.id)}`;
  const rerun: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      onclick: () => void act(rerun, () => runNow('pipeline', run.pipeline, true, () => undefined)),
    },
    `Run ${run.pipeline} again (forced)`,
  );
  const rejects = h('section', { 'aria-labelledby': 'rejects' });
  const log = h('section', { 'aria-labelledby': 'log' });
  fill(
    page.main,
    h(
      'p',
      { class: 'crumbs' },
      link('/', 'Pipelines'),
      ' › ',
      link(`/runs?pipeline=${encodeURIComponent(run.pipeline)}`, run.pipeline),
      ' › run',
    ),
    h('h1', {}, `Run of ${run.pipeline} `, statusBadge(run.status)),
    run.error
      ? h(
          'p',
          { class: 'reason', role: 'note' },
          h('strong', {}, 'Reason: '),
          run.errorCode ? `${run.errorCode}: ` : '',
          run.error,
        )
      : null,
    run.status === 'running' ? liveProgress(page, base) : null,
    summary(run),
    h('div', { class: 'toolbar' }, run.status === 'running' ? null : rerun),
    h('h2', {}, 'Step timings'),
    run.steps.length > 0 ? stepBars(run.steps) : h('p', { class: 'hint' }, 'No step timings recorded.'),
    h('h2', {}, 'Files'),
    table(
      'Files of the run',
      ['File', 'Ledger status', 'Rows read', 'Loaded', 'Rejected', 'Size', 'Reason / archive'],
      run.files.map((f) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, f.name, h('br'), h('span', { class: 'hint' }, f.source)),
          h('td', {}, statusBadge(f.status)),
          h('td', { class: 'num' }, count(f.rowsRead)),
          h('td', { class: 'num' }, count(f.rowsLoaded)),
          h('td', { class: 'num' }, count(f.rowsRejected)),
          h('td', { class: 'num' }, bytes(f.size)),
          h('td', {}, f.reason ?? (f.duplicateOf ? `duplicate of ${f.duplicateOf}` : (f.archivedTo ?? '—'))),
        ),
      ),
      'No files in this run.',
    ),
    rejects,
    log,
  );
  await Promise.all([rejectsSection(page, rejects, base, run), logSection(page, log, base)]);
}

function summary(run: RunDetail) {
  const item = (term: string, ...value: (Node | string)[]) => [h('dt', {}, term), h('dd', {}, ...value)];
  return h(
    'dl',
    { class: 'summary' },
    item('Status', statusBadge(run.status)),
    item('Started', when(run.startedAt)),
    item('Ended', when(run.endedAt)),
    item('Duration', duration(run.durationMs)),
    item('As of', run.asOf),
    item('Rows read', count(run.rowsRead)),
    item('Rows loaded', count(run.rowsLoaded)),
    item('Rows rejected', count(run.rowsRejected)),
    item(
      'Files',
      `${count(run.filesLoaded)} loaded, ${count(run.filesRejected)} rejected, ${count(run.filesSkipped)} skipped`,
    ),
    item('Attempts', count(run.attempts)),
    item('Host', run.host ? `${run.host}${run.pid ? ` (pid ${run.pid})` : ''}` : '—'),
    item('Request', run.requestId ?? '—'),
    item('Run id', h('code', {}, run.id)),
  );
}

/** Rows and rows per second of a running run, polled each second; the page redraws when the run ends. */
function liveProgress(page: Page, base: string) {
  const bar = h('progress', { id: 'progress-bar', max: 1 });
  const text = h('span', { id: 'progress-text' }, 'waiting for progress…');
  const box = h(
    'section',
    { class: 'progress', 'aria-label': 'Progress', 'aria-live': 'polite' },
    h('h2', {}, 'Progress'),
    bar,
    ' ',
    text,
  );
  page.every(1000, async () => {
    const p = await apiGet<Progress>(`${base}/progress`);
    if (p.status !== 'running') {
      page.refresh();
      return false;
    }
    if (p.filesTotal) {
      bar.max = p.filesTotal;
      bar.value = p.filesSeen ?? 0;
    } else bar.removeAttribute('value'); // indeterminate
    text.textContent =
      `${count(p.rowsRead)} rows read, ${count(p.rowsLoaded)} loaded, ${count(p.rowsRejected)} rejected — ` +
      `${count(p.rowsPerSecond)} rows/s, ${duration(p.elapsedSeconds * 1000)}` +
      (p.file ? ` — file ${p.file}` : '') +
      (p.filesTotal ? ` (${p.filesSeen ?? 0} of ${p.filesTotal})` : '');
    return true;
  });
  return box;
}

async function rejectsSection(page: Page, section: HTMLElement, base: string, run: RunDetail) {
  const input = (id: string, label: string, attrs: Record<string, string>) =>
    h('span', {}, h('label', { for: id }, label), ' ', h('input', { id, name: id, ...attrs }));
  const files = h(
    'datalist',
    { id: 'reject-files' },
    run.files.map((f) => h('option', { value: f.name })),
  );
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Search rejects' },
    input('reject-file', 'File', { type: 'text', list: 'reject-files', autocomplete: 'off' }),
    files,
    input('reject-line', 'Line', { type: 'number', min: '0', inputmode: 'numeric' }),
    input('reject-rule', 'Rule', { type: 'text', autocomplete: 'off' }),
    h('button', { type: 'submit' }, 'Search'),
  );
  const results = h('div', { id: 'reject-results' });
  const download: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      onclick: () =>
        void act(download, () =>
          apiDownload(`${base}/rejects.csv?${filter().toString()}`, `rejects-${run.id}.csv`),
        ),
    },
    'Download CSV',
  );
  const filter = () => {
    const q = new URLSearchParams();
    for (const [id, key] of [
      ['reject-file', 'file'],
      ['reject-line', 'line'],
      ['reject-rule', 'rule'],
    ] as const) {
      const value = (form.elements.namedItem(id) as HTMLInputElement).value.trim();
      if (value) q.set(key, value);
    }
    return q;
  };
  const show = async (after?: string) => {
    const q = filter();
    q.set('limit', String(REJECTS_PAGE));
    if (after) q.set('after', after);
    try {
      const r = await apiGet<{ total: number; rejects: Reject[]; next: string | null }>(
        `${base}/rejects?${q}`,
      );
      if (page.left) return;
      const more: HTMLButtonElement | null = r.next
        ? h('button', { type: 'button', onclick: () => void show(r.next!) }, 'Next page')
        : null;
      fill(
        results,
        h(
          'p',
          { id: 'reject-total', 'aria-live': 'polite' },
          r.total === 1 ? '1 reject matches.' : `${count(r.total)} rejects match.`,
        ),
        table(
          'Rejected rows',
          ['File', 'Line', 'Column', 'Rule', 'Value', 'Message'],
          r.rejects.map((x) =>
            h(
              'tr',
              {},
              h('td', {}, x.file),
              h('td', { class: 'num' }, x.line ?? '—'),
              h('td', {}, x.column ?? '—'),
              h('td', {}, x.rule),
              h('td', {}, h('code', {}, x.value ?? '')),
              h('td', {}, x.message),
            ),
          ),
          'No rejects match.',
        ),
        h(
          'p',
          { class: 'toolbar' },
          after ? h('button', { type: 'button', onclick: () => void show() }, 'First page') : null,
          more,
        ),
      );
    } catch (error) {
      notify(errorText(error), 'error');
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void show();
  });
  fill(
    section,
    h('h2', { id: 'rejects' }, `Rejects (${count(run.rowsRejected)})`),
    form,
    h('p', { class: 'toolbar' }, download),
    results,
  );
  await show();
}

async function logSection(page: Page, section: HTMLElement, base: string) {
  const body = h('tbody');
  const more = h('p', { class: 'toolbar' });
  const load = async (after?: string) => {
    const q = new URLSearchParams({ limit: String(LOG_PAGE) });
    if (after) q.set('after', after);
    const r = await apiGet<{ entries: LogEntry[]; next: string | null }>(`${base}/log?${q}`);
    if (page.left) return;
    body.append(
      ...r.entries.map((e) =>
        h(
          'tr',
          { class: `log-${e.level}` },
          h('td', {}, when(e.loggedAt)),
          h('td', {}, e.level),
          h('td', { class: 'num' }, e.totalMs === null ? '' : duration(e.totalMs)),
          h('td', {}, e.message),
        ),
      ),
    );
    const button: HTMLButtonElement | null = r.next
      ? h('button', { type: 'button', onclick: () => void act(button!, () => load(r.next!)) }, 'More log')
      : null;
    fill(more, button);
  };
  fill(
    section,
    h('h2', { id: 'log' }, 'Step log'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'log' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Time', 'Level', 'At', 'Message'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        body,
      ),
    ),
    more,
  );
  await load();
}
