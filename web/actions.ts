// The actions of the dashboard: run now, enable or disable a schedule, cleanup. Each says what it did in
// the notice area, or the API's text when refused; a queued run is followed until it ends.

import { apiGet, apiPost, errorText } from './api.js';
import { h, link, statusBadge } from './dom.js';
import { notify } from './page.js';
import type { Accepted, CleanupResult, Run } from './types.js';

/** Runs `action` from `button`: disabled meanwhile, errors shown with the API's words. */
export async function act(button: HTMLButtonElement, action: () => Promise<void>) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    await action();
  } catch (error) {
    notify(errorText(error), 'error');
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** Shows a queued request and follows its runs until each has ended; `done` when they have. */
function follow(accepted: Accepted, what: string, done: () => void) {
  const line = h('span', { class: 'follow' }, `${what}: queued (request ${accepted.requestId}).`);
  notify(line);
  const started = Date.now();
  const tick = async () => {
    try {
      const { runs } = await apiGet<{ runs: Run[] }>(
        `/api/requests/${encodeURIComponent(accepted.requestId)}`,
      );
      if (runs.length > 0) {
        line.replaceChildren(
          `${what}: `,
          ...runs.flatMap((r, i) => [
            i > 0 ? ', ' : '',
            link(`/runs/${r.id}`, r.pipeline),
            ' ',
            statusBadge(r.status),
          ]),
        );
        if (runs.every((r) => r.status !== 'running')) {
          done();
          return;
        }
      }
    } catch (error) {
      line.append(` (${errorText(error)})`);
      return;
    }
    // A request whose runs never start (no worker) is followed for an hour at most.
    if (Date.now() - started < 3_600_000) setTimeout(() => void tick(), 1000);
  };
  setTimeout(() => void tick(), 300);
}

/** Run now: a pipeline, or a group (all its pipelines). */
export async function runNow(kind: 'pipeline' | 'group', name: string, force: boolean, done: () => void) {
  const path =
    kind === 'pipeline'
      ? `/api/pipelines/${encodeURIComponent(name)}/run`
      : `/api/groups/${encodeURIComponent(name)}/run`;
  const accepted = await apiPost<Accepted>(path, force ? { force: true } : {});
  follow(accepted, `${kind === 'group' ? 'Group' : 'Run of'} ${name}${force ? ' (forced)' : ''}`, done);
}

export async function setSchedule(name: string, enabled: boolean) {
  await apiPost(`/api/schedules/${encodeURIComponent(name)}/${enabled ? 'enable' : 'disable'}`);
  notify(`Schedule ${name} ${enabled ? 'enabled' : 'disabled'}.`);
}

export async function cleanup(retry: boolean, done: () => void) {
  const r = await apiPost<CleanupResult>('/api/cleanup', { retry });
  const parts = [
    `${r.reaped.length} stale run${r.reaped.length === 1 ? '' : 's'} marked failed`,
    `${r.alive.length} silent but alive`,
  ];
  if (retry) parts.push(`${r.retried.length} rerun queued`, `${r.notRetried.length} not rerun`);
  notify(`Cleanup: ${parts.join(', ')}.`);
  done();
}
