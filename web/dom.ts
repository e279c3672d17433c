// Small helpers to build the pages: elements from data with textContent (never HTML from data), and the
// formats of times, durations and counts shared by every page.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** An element: attributes (`on…` ones are listeners; false/null/undefined ones are left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element (charts). */
export function s(tag: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el: Element, children: (Child | Child[])[]) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'number' ? String(child) : child);
  }
}

/** Replaces the children of `el`. */
export function fill(el: Element, ...children: (Child | Child[])[]) {
  el.replaceChildren();
  append(el, children);
}

/** Statuses in the order the pipelines page lists them: failures first. */
export const STATUS_ORDER = ['failed', 'interrupted', 'stopped', 'running', 'never', 'succeeded'];

const STATUS_MARK: Record<string, string> = {
  failed: '✗',
  interrupted: '!',
  stopped: '■',
  running: '▶',
  never: '–',
  succeeded: '✓',
  loaded: '✓',
  rejected: '✗',
  skipped: '–',
};

/** A status as a mark and a word (readable without colour); the class gives the colour. */
export function statusBadge(status: string): HTMLElement {
  return h(
    'span',
    { class: `status status-${status.replace(/[^a-z-]/g, '')}` },
    h('span', { 'aria-hidden': 'true' }, STATUS_MARK[status] ?? '•'),
    ' ',
    status,
  );
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A time in the browser's zone, `YYYY-MM-DD HH:MM:SS`, in a <time> that shows how long ago on hover. */
export function when(iso: string | null | undefined): HTMLElement | string {
  if (!iso) return '—';
  const d = new Date(iso);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}`;
  return h('time', { datetime: iso, title: relative(iso) }, text);
}

/** `5 min ago`, `in 2 h`. */
export function relative(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const amount =
    abs < 60
      ? `${abs} s`
      : abs < 3600
        ? `${Math.round(abs / 60)} min`
        : abs < 86400 * 2
          ? `${Math.round(abs / 3600)} h`
          : `${Math.round(abs / 86400)} d`;
  return seconds >= 0 ? `in ${amount}` : `${amount} ago`;
}

/** A duration with units: `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 10 min`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A count with thousands separators. */
export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : numbers.format(n);
}

// One formatter for every count: toLocaleString builds one per call, which costs a first page of 100
// pipelines with their bars (thousands of counts) hundreds of milliseconds.
const numbers = new Intl.NumberFormat('en-US');

/** Bytes with a unit. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

/** A link inside the dashboard (hash routes: the server serves one page). */
export function link(route: string, ...children: (Child | Child[])[]): HTMLAnchorElement {
  return h('a', { href: `#${route}` }, ...children);
}

/** A table whose header row is `head`; wrapped so that wide tables scroll on a phone. */
export function table(caption: string, head: string[], rows: HTMLTableRowElement[], empty = 'None.') {
  // Each cell names its column, for the stacked layout of narrow screens (style.css).
  for (const row of rows)
    for (const [i, cell] of [...row.cells].entries()) cell.dataset.label = head[i] ?? '';
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          head.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.length > 0 ? rows : h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, empty)),
      ),
    ),
  );
}
