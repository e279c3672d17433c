// The dashboard's shell: hash routes (the server serves one page), the token's state in the header, and a
// page context whose timers stop when the reader leaves.

import { errorText, forgetToken, storedToken } from './api.js';
import { fill, h } from './dom.js';
import type { Page } from './page.js';
import { pipelinesPage } from './pipelines-page.js';
import { runPage } from './run-page.js';
import { runsPage } from './runs-page.js';

const main = document.getElementById('main')!;
let current: { left: boolean; timers: number[] } | undefined;

function route(): { path: string; query: URLSearchParams } {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = hash.split('?', 2);
  return { path, query: new URLSearchParams(query) };
}

/** What had the focus, to give it back after a redraw (keyboard users keep their place). */
function focusKey(): string | null {
  const el = document.activeElement;
  if (!el || el === document.body || !main.contains(el)) return null;
  if (el.id) return `#${CSS.escape(el.id)}`;
  const label = el.getAttribute('aria-label');
  return label ? `${el.tagName.toLowerCase()}[aria-label="${CSS.escape(label)}"]` : null;
}

async function show(redraw = false) {
  const focus = redraw ? focusKey() : null;
  if (current) {
    current.left = true;
    for (const t of current.timers) clearTimeout(t);
  }
  const state = { left: false, timers: [] as number[] };
  current = state;
  const { path, query } = route();
  const page: Page = {
    main,
    query,
    get left() {
      return state.left;
    },
    every(ms, fn) {
      const tick = async () => {
        if (state.left) return;
        let again: boolean | void = true;
        try {
          again = await fn();
        } catch {
          again = true; // a missed poll is tried again
        }
        if (again !== false && !state.left) state.timers.push(window.setTimeout(() => void tick(), ms));
      };
      state.timers.push(window.setTimeout(() => void tick(), ms));
    },
    refresh: () => void show(true),
  };
  if (!redraw) main.setAttribute('aria-busy', 'true');
  try {
    const run = /^\/runs\/([^/]+)$/.exec(path);
    if (path === '/') {
      document.title = 'Pipelines · Sluice';
      await pipelinesPage(page);
    } else if (run) {
      document.title = 'Run · Sluice';
      await runPage(page, decodeURIComponent(run[1]!));
    } else if (path === '/runs') {
      document.title = 'Runs · Sluice';
      await runsPage(page);
    } else
      fill(
        main,
        h('h1', {}, 'Not found'),
        h('p', {}, `No page ${path}. `, h('a', { href: '#/' }, 'Pipelines')),
      );
  } catch (error) {
    if (!state.left)
      fill(
        main,
        h('h1', {}, 'Could not load this page'),
        h('p', { class: 'notice notice-error', role: 'alert' }, errorText(error)),
        h('p', {}, h('button', { type: 'button', onclick: () => void show() }, 'Try again')),
      );
  } finally {
    if (!state.left) main.removeAttribute('aria-busy');
  }
  if (focus && !state.left) (main.querySelector(focus) as HTMLElement | null)?.focus();
  else if (!redraw && !state.left && document.activeElement !== document.body) main.focus();
}

function tokenState() {
  const slot = document.getElementById('token-state')!;
  if (storedToken())
    fill(
      slot,
      'Token set for this tab. ',
      h('button', { type: 'button', class: 'link', onclick: () => forgetToken() }, 'Forget token'),
    );
  else fill(slot, 'No token: actions will ask for it.');
}

document.addEventListener('sluice-token', tokenState);
window.addEventListener('hashchange', () => void show());
tokenState();
void show();
