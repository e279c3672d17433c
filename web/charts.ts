// Charts as inline SVG: each bar also has a text title (hover, screen readers), and every chart sits beside
// the numbers it draws, so nothing is said by colour or shape alone.

import { count, duration, s } from './dom.js';
import type { RunPoint } from './types.js';

/**
 * Rows loaded (up) and rejected (down, below the line) of the latest runs, oldest on the left; a failed run
 * without rows is a short mark under the line.
 */
export function runBars(points: RunPoint[], width = 160, height = 36): SVGElement {
  const runs = [...points].reverse();
  const slots = Math.max(runs.length, 10);
  const slot = width / slots;
  const top = Math.round(height * 0.7); // the baseline: loaded above it, rejected below
  const max = Math.max(1, ...runs.map((r) => r.rowsLoaded));
  const maxRejected = Math.max(1, ...runs.map((r) => r.rowsRejected));
  const summary = runs.length
    ? `Last ${runs.length} runs: ${runs.map((r) => `${r.status} ${r.rowsLoaded} loaded ${r.rowsRejected} rejected`).join('; ')}`
    : 'No runs yet';
  const bars = runs.flatMap((r, i) => {
    const x = i * slot + 1;
    const w = Math.max(1, slot - 2);
    const up = r.rowsLoaded > 0 ? Math.max(2, (r.rowsLoaded / max) * (top - 2)) : 0;
    const down = r.rowsRejected > 0 ? Math.max(2, (r.rowsRejected / maxRejected) * (height - top - 2)) : 0;
    const title = s(
      'title',
      {},
      `${r.status}: ${count(r.rowsLoaded)} loaded, ${count(r.rowsRejected)} rejected, ${duration(r.durationMs)}`,
    );
    const failed = r.status === 'failed' || r.status === 'interrupted';
    return [
      s(
        'rect',
        {
          x,
          y: top - up,
          width: w,
          height: up || (failed ? 0 : 1),
          class: `bar-loaded ${failed ? 'bar-failed' : ''}`,
        },
        title,
      ),
      down
        ? s('rect', { x, y: top + 1, width: w, height: down, class: 'bar-rejected' }, title.cloneNode(true))
        : null,
      failed
        ? s('rect', { x, y: top + 1, width: w, height: 4, class: 'bar-failed' }, title.cloneNode(true))
        : null,
    ];
  });
  return s(
    'svg',
    {
      class: 'chart runs-chart',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': summary,
    },
    s('title', {}, summary),
    s('line', { x1: 0, x2: width, y1: top + 0.5, y2: top + 0.5, class: 'baseline' }),
    bars,
  );
}

/** Step timings as horizontal bars, with the step's name and its time written beside each. */
export function stepBars(steps: { step: string; ms: number }[], width = 480): SVGElement {
  const row = 22;
  const label = 110;
  const value = 80;
  const max = Math.max(1, ...steps.map((x) => x.ms));
  const height = Math.max(row, steps.length * row);
  return s(
    'svg',
    {
      class: 'chart steps-chart',
      width: '100%',
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: 'xMinYMin meet',
      role: 'img',
      'aria-label': `Step timings: ${steps.map((x) => `${x.step} ${duration(x.ms)}`).join(', ')}`,
    },
    steps.map((x, i) => {
      const w = Math.max(1, (x.ms / max) * (width - label - value));
      const y = i * row;
      return s(
        'g',
        {},
        s('text', { x: 0, y: y + 15, class: 'label' }, x.step),
        s('rect', { x: label, y: y + 4, width: w, height: row - 8, class: 'bar-step' }),
        s('text', { x: label + w + 6, y: y + 15, class: 'value' }, duration(x.ms)),
      );
    }),
  );
}
