// The first page: every pipeline (failures first) with its last and next run and its latest runs as bars;
// filters by group and status; the service's health; schedules with their next tick; mail accounts with
// their last successful poll; run now, enable/disable, cleanup.

import { act, cleanup, runNow, setSchedule } from './actions.js';
import { apiGet, errorText } from './api.js';
import { runBars } from './charts.js';
import { count, duration, fill, h, link, STATUS_ORDER, statusBadge, table, when } from './dom.js';
import type { Page } from './page.js';
import type { MailAccount, Pipeline, Schedule, Status } from './types.js';

const rank = (status: string) => {
  const i = STATUS_ORDER.indexOf(status);
  return i < 0 ? STATUS_ORDER.length : i;
};

/** Failures first, then the rest by status; by name within a status. */
export function byFailuresFirst(a: Pipeline, b: Pipeline) {
  return rank(a.status) - rank(b.status) || a.name.localeCompare(b.name);
}

/** The force box keeps its state while the page redraws itself. */
let forceChosen = false;

export async function pipelinesPage(page: Page) {
  // The health line is drawn when its answer comes: the list does not wait for it.
  const lists = Promise.all([
    apiGet<{ pipelines: Pipeline[] }>('/api/pipelines?recent=20'),
    apiGet<{ schedules: Schedule[] }>('/api/schedules'),
    apiGet<{ accounts: MailAccount[] }>('/api/mail/accounts'),
  ]);
  const status = apiGet<Status>('/api/status');
  const [{ pipelines }, { schedules }, { accounts }] = await lists;
  if (page.left) return;
  performance.mark('sluice-data');
  const health = h(
    'section',
    { class: 'health', 'aria-label': 'Service health' },
    h('p', {}, 'Service status…'),
  );
  status.then(
    (s) => health.replaceWith(healthLine(s)),
    (error: unknown) => fill(health, h('p', {}, `Service status unknown: ${errorText(error)}`)),
  );
  const group = page.query.get('group') ?? '';
  const wanted = page.query.get('status') ?? '';
  const groups = [...new Set(pipelines.flatMap((p) => p.groups))].sort();
  const statuses = [...new Set(pipelines.map((p) => p.status))].sort((a, b) => rank(a) - rank(b));
  const shown = pipelines
    .filter((p) => (!group || p.groups.includes(group)) && (!wanted || p.status === wanted))
    .sort(byFailuresFirst);

  const force = h('input', {
    type: 'checkbox',
    id: 'force',
    name: 'force',
    checked: forceChosen,
    onchange: () => (forceChosen = force.checked),
  });
  const forced = () => forceChosen;

  fill(
    page.main,
    h('h1', {}, 'Pipelines'),
    health,
    filters(groups, statuses, group, wanted),
    h(
      'div',
      { class: 'toolbar' },
      h('span', {}, force, ' ', h('label', { for: 'force' }, 'Force (run even inside the refresh window)')),
      group
        ? runButton(`Run group ${group}`, 'group', group, forced, page)
        : h('span', { class: 'hint' }, 'Choose a group to run all its pipelines.'),
    ),
    h(
      'p',
      { class: 'hint', id: 'shown' },
      `${shown.length} of ${pipelines.length} pipelines shown. Times are in ${Intl.DateTimeFormat().resolvedOptions().timeZone}.`,
    ),
    table(
      'Pipelines',
      [
        'Status',
        'Pipeline',
        'Group',
        'Last run',
        'Rows loaded / rejected',
        'Next run',
        'Latest runs',
        'Action',
      ],
      shown.map((p) => pipelineRow(p, forced, page)),
      pipelines.length === 0 ? 'No pipeline is configured or has run.' : 'No pipeline matches the filters.',
    ),
    h('h2', { id: 'schedules' }, 'Schedules'),
    table(
      'Schedules',
      ['Schedule', 'Runs', 'Cron', 'Next tick', 'Last tick', 'State', 'Action'],
      schedules.map((s) => scheduleRow(s, page)),
      'No schedules.',
    ),
    h('h2', { id: 'mail' }, 'Mail accounts'),
    table(
      'Mail accounts',
      ['Account', 'Last successful poll', 'Last attempt', 'Last error', 'Active rules', 'Messages handled'],
      accounts.map((a) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, a.account),
          h('td', {}, when(a.lastSuccessAt)),
          h('td', {}, when(a.lastAttemptAt)),
          h('td', { class: a.lastError ? 'error-text' : '' }, a.lastError ?? '—'),
          h('td', { class: 'num' }, count(a.activeRules)),
          h('td', { class: 'num' }, count(a.messagesHandled)),
        ),
      ),
      'No mail accounts.',
    ),
    h('h2', { id: 'maintenance' }, 'Maintenance'),
    cleanupForm(page),
  );
  performance.mark('sluice-drawn');
  // Live: while a run is going, the list follows it.
  if (pipelines.some((p) => p.status === 'running')) page.every(3000, async () => page.refresh());
}

function healthLine(status: Status) {
  return h(
    'section',
    { class: `health health-${status.status}`, 'aria-label': 'Service health' },
    h('p', {}, h('strong', {}, `Service ${status.status}`), ` — ${describeCounts(status.counts)}`),
    status.reasons.length > 0
      ? h(
          'ul',
          {},
          status.reasons.map((r) => h('li', {}, r)),
        )
      : null,
  );
}

function describeCounts(c: Record<string, number>) {
  return [
    `${c.pipelines ?? 0} pipelines`,
    `${c.failed ?? 0} failed`,
    `${c.running ?? 0} running`,
    `${c.queueWaiting ?? 0} queued`,
    `${c.schedulesEnabled ?? 0} of ${c.schedules ?? 0} schedules enabled`,
  ].join(', ');
}

function filters(groups: string[], statuses: string[], group: string, status: string) {
  const select = (id: string, label: string, values: string[], current: string) =>
    h(
      'span',
      {},
      h('label', { for: id }, label),
      ' ',
      h(
        'select',
        { id, name: id },
        h('option', { value: '' }, 'all'),
        values.map((v) => h('option', { value: v, selected: v === current }, v)),
      ),
    );
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter pipelines' },
    select('group', 'Group', groups, group),
    select('status', 'Status', statuses, status),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const apply = (event: Event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const name of ['group', 'status']) {
      const value = (form.elements.namedItem(name) as HTMLSelectElement).value;
      if (value) q.set(name, value);
    }
    const query = q.toString();
    location.hash = `#/${query ? `?${query}` : ''}`;
  };
  form.addEventListener('submit', apply);
  // Choosing applies at once; the button is there for keyboards and for browsers without scripts' change.
  form.addEventListener('change', apply);
  return form;
}

function runButton(
  label: string,
  kind: 'pipeline' | 'group',
  name: string,
  forced: () => boolean,
  page: Page,
) {
  const button: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      'aria-label': label,
      onclick: () => void act(button, () => runNow(kind, name, forced(), () => page.left || page.refresh())),
    },
    kind === 'group' ? label : 'Run now',
  );
  return button;
}

function pipelineRow(p: Pipeline, forced: () => boolean, page: Page) {
  const last = p.lastRun;
  const failed = p.status === 'failed' || p.status === 'interrupted';
  return h(
    'tr',
    { class: `row-${p.status}`, 'data-pipeline': p.name },
    h(
      'td',
      {},
      statusBadge(p.status),
      failed && last?.error
        ? h('p', { class: 'reason' }, last.errorCode ? `${last.errorCode}: ` : '', last.error)
        : null,
    ),
    h(
      'th',
      { scope: 'row' },
      link(`/runs?pipeline=${encodeURIComponent(p.name)}`, p.name),
      p.configured ? null : h('span', { class: 'hint' }, ' (not configured here)'),
    ),
    h('td', {}, p.groups.length ? p.groups.join(', ') : '—'),
    h(
      'td',
      {},
      last ? [link(`/runs/${last.id}`, when(last.startedAt)), h('br'), duration(last.durationMs)] : 'never',
    ),
    h(
      'td',
      { class: 'num' },
      last
        ? [
            count(last.rowsLoaded),
            ' / ',
            h('span', { class: last.rowsRejected ? 'rejected' : '' }, count(last.rowsRejected)),
          ]
        : '—',
    ),
    h(
      'td',
      {},
      p.nextRun ? [when(p.nextRun), h('br'), h('span', { class: 'hint' }, p.schedules.join(', '))] : '—',
    ),
    h('td', {}, runBars(p.recent)),
    h('td', {}, p.configured ? runButton(`Run ${p.name} now`, 'pipeline', p.name, forced, page) : null),
  );
}

function scheduleRow(s: Schedule, page: Page) {
  const button: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      'aria-label': `${s.enabled ? 'Disable' : 'Enable'} schedule ${s.name}`,
      onclick: () =>
        void act(button, async () => {
          await setSchedule(s.name, !s.enabled);
          page.refresh();
        }),
    },
    s.enabled ? 'Disable' : 'Enable',
  );
  return h(
    'tr',
    { 'data-schedule': s.name },
    h('th', { scope: 'row' }, s.name),
    h('td', {}, `${s.kind}${s.target ? ` ${s.target}` : ''}`),
    h('td', {}, h('code', {}, s.cron), ` (${s.timezone})`),
    h('td', {}, s.enabled ? when(s.nextRun) : 'disabled'),
    h('td', {}, when(s.lastFireAt)),
    h(
      'td',
      {},
      h(
        'span',
        { class: s.enabled ? 'status status-succeeded' : 'status status-stopped' },
        s.enabled ? 'enabled' : 'disabled',
      ),
    ),
    h('td', {}, button),
  );
}

function cleanupForm(page: Page) {
  const retry = h('input', { type: 'checkbox', id: 'cleanup-retry' });
  const button: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      onclick: () => void act(button, () => cleanup(retry.checked, () => page.refresh())),
    },
    'Clean up stale runs',
  );
  return h(
    'div',
    { class: 'toolbar' },
    button,
    h(
      'span',
      {},
      retry,
      ' ',
      h('label', { for: 'cleanup-retry' }, 'and rerun each pipeline whose latest run failed'),
    ),
    h(
      'p',
      { class: 'hint' },
      'Marks runs whose heartbeat stopped as failed, so their pipelines can run again.',
    ),
  );
}
