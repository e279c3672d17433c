// The runs of every pipeline or of one, newest first, paged by start time.

import { apiGet } from './api.js';
import { count, duration, fill, h, link, statusBadge, table, when } from './dom.js';
import type { Page } from './page.js';
import type { Run } from './types.js';

export async function runsPage(page: Page) {
  const pipeline = page.query.get('pipeline');
  const before = page.query.get('before');
  const q = new URLSearchParams({ limit: '50' });
  if (pipeline) q.set('pipeline', pipeline);
  if (before) q.set('before', before);
  const { runs, next } = await apiGet<{ runs: Run[]; next: string | null }>(`/api/runs?${q}`);
  if (page.left) return;
  const older = new URLSearchParams();
  if (pipeline) older.set('pipeline', pipeline);
  if (next) older.set('before', next);
  fill(
    page.main,
    h('p', { class: 'crumbs' }, link('/', 'Pipelines'), ' › runs'),
    h('h1', {}, pipeline ? `Runs of ${pipeline}` : 'Runs'),
    table(
      'Runs',
      ['Status', 'Pipeline', 'Started', 'Duration', 'Rows loaded / rejected', 'Reason'],
      runs.map((r) =>
        h(
          'tr',
          {},
          h('td', {}, statusBadge(r.status)),
          h('th', { scope: 'row' }, r.pipeline),
          h('td', {}, link(`/runs/${r.id}`, when(r.startedAt))),
          h('td', {}, duration(r.durationMs)),
          h('td', { class: 'num' }, `${count(r.rowsLoaded)} / ${count(r.rowsRejected)}`),
          h('td', { class: r.error ? 'reason' : '' }, r.error ?? ''),
        ),
      ),
      'No runs.',
    ),
    h(
      'p',
      { class: 'toolbar' },
      before ? link(`/runs${pipeline ? `?pipeline=${encodeURIComponent(pipeline)}` : ''}`, 'Newest') : null,
      next ? link(`/runs?${older}`, 'Older runs') : null,
    ),
  );
  if (runs.some((r) => r.status === 'running')) page.every(3000, async () => page.refresh());
}
