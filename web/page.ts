// What a page gets from the shell: its place, timers that stop when the reader leaves, and the notice area
// where actions say what happened (or the API's words when it refused).

import { h, fill } from './dom.js';

export interface Page {
  main: HTMLElement;
  /** The route's query (`#/runs?pipeline=x` gives pipeline=x). */
  query: URLSearchParams;
  /** Calls `fn` every `ms` until the page is left or `fn` returns false. */
  every(ms: number, fn: () => Promise<boolean | void>): void;
  /** True once the reader went to another page: late answers are dropped. */
  readonly left: boolean;
  /** Draws the page again (after an action changed something). */
  refresh(): void;
}

const notices = () => document.getElementById('notice')!;

/** Shows what an action did; `error` shows it as an alert (the API's refusal, say). */
export function notify(text: string | Node, kind: 'info' | 'error' = 'info') {
  const item = h(
    'p',
    { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('strong', {}, kind === 'error' ? 'Refused or failed: ' : ''),
    text,
    ' ',
    h(
      'button',
      { type: 'button', class: 'link', onclick: () => item.remove(), 'aria-label': 'Dismiss' },
      '×',
    ),
  );
  notices().prepend(item);
  // Keep the few newest.
  while (notices().children.length > 4) notices().lastElementChild?.remove();
}

export function clearNotices() {
  fill(notices());
}
