import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/plugins/index.js';
import { createMailStore } from '../../src/store/mail-store.js';
import { loadCatalog } from '../../src/scheduler/catalog.js';
import { DASHBOARD_DIR } from '../../src/server/dashboard.js';
import { startService, type RunningService } from '../../src/server/start-service.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { REPO, tempDir } from '../helpers/pipeline-harness.js';
import { eventually, servicePipeline } from '../helpers/service-fixtures.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// The dashboard in a real browser (Debian's chromium through playwright-core) against a real service over a
// fresh PostgreSQL database: what an operator sees and does, and that the pages use only the public API.
// Screenshots of each page go to test/.screenshots/ for review.

const TOKEN = 'dash-token-5678';
const SHOTS = path.join(REPO, 'test/.screenshots');
const GATE_TABLE = 'dash_gate_open';
/** A load that waits until the test opens the gate (a row in GATE_TABLE): a run the test can watch. */
const GATE_SQL = `DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM ${GATE_TABLE}) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$`;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

let store: TestStore;
let service: RunningService;
let closedService: RunningService;
let browser: TestBrowser;
const requests: Request[] = [];

async function api(method: string, route: string, body?: unknown) {
  const response = await fetch(`${service.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await response.json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(response.status, JSON.stringify(json)).toBeLessThan(300);
  return json;
}

/** Runs a pipeline through the API and waits for its run to end. */
async function runToEnd(name: string): Promise<{ id: string; status: string }> {
  const accepted = await api('POST', `/api/pipelines/${name}/run`, { force: true });
  return eventually(`the run of ${name}`, async () => {
    const { runs } = await api('GET', `/api/requests/${accepted.requestId}`);
    return runs.length === 1 && runs[0].status !== 'running' ? runs[0] : undefined;
  });
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function openPage(base = service.url!): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(`${base}/`);
  return page;
}

beforeAll(async () => {
  expect(
    existsSync(path.join(DASHBOARD_DIR, 'app.js')),
    `the dashboard is not built in ${DASHBOARD_DIR}: run npm run build`,
  ).toBe(true);
  const built = (await stat(path.join(DASHBOARD_DIR, 'app.js'))).mtimeMs;
  const sources = await readdir(path.join(REPO, 'web'));
  for (const source of sources.filter((f) => /\.(ts|html|css)$/.test(f)))
    expect(
      (await stat(path.join(REPO, 'web', source))).mtimeMs,
      `web/${source} changed after the last build: run npm run build`,
    ).toBeLessThanOrEqual(built + 1000);
  await mkdir(SHOTS, { recursive: true });
  store = await createTestStore({ prefix: 'sluice-dash-' });
  await store.db.query(`CREATE TABLE ${GATE_TABLE} (opened int)`);
  const dir = await tempDir('sluice-dash-pipelines-');
  await servicePipeline(dir, 'orders', { group: ['sales'], rows: 20, bad: 60 });
  await servicePipeline(dir, 'payments', { group: ['sales'], setup: 'SELECT * FROM no_such_ledger' });
  await servicePipeline(dir, 'gated', { group: ['ops'], rows: 5, setup: GATE_SQL });
  const registry = createRegistry();
  const catalog = await loadCatalog([dir], registry);
  const common = { db: store.db, home: store.home, registry, catalog, logger: silent };
  service = await startService({ ...common, port: 0, token: TOKEN, openReads: true, concurrency: 2 });
  closedService = await startService({ ...common, port: 0, token: TOKEN, concurrency: 0 });
  expect((await runToEnd('orders')).status).toBe('succeeded');
  expect((await runToEnd('payments')).status).toBe('failed');
  await api('POST', '/api/schedules', {
    name: 'orders-nightly',
    cron: '0 2 * * *',
    timezone: 'Europe/Madrid',
    kind: 'pipeline',
    target: 'orders',
  });
  await createMailStore(store.db).recordPoll('billing@example.com', {
    ok: true,
    counts: { handled: 2, unmatched: 0, alreadyHandled: 0, files: 2 },
  });
  browser = await launchBrowser();
  browser.context.on('request', (r) => requests.push(r));
});

afterAll(async () => {
  await browser?.close();
  await service?.stop(5_000);
  await closedService?.stop(5_000);
  await store?.close();
});

describe('the dashboard route', () => {
  it('serves the page and its files without a token, with a CSP; hidden from the API description', async () => {
    const base = closedService.url!; // reads closed: the page still loads, then asks for the token
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(index.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(await index.text()).toContain('/web/app.js');
    const app = await fetch(`${base}/web/app.js`);
    expect(app.headers.get('content-type')).toContain('text/javascript');
    expect(await app.text()).toContain('hashchange');
    const css = await fetch(`${base}/web/style.css`);
    expect(css.headers.get('content-type')).toContain('text/css');
    for (const missing of ['/web/nope.js', '/web/../package.json', '/web/%2e%2e/package.json']) {
      const r = await fetch(`${base}${missing}`);
      expect([401, 404], missing).toContain(r.status); // (fetch itself resolves the plain `..`)
      expect(await r.text()).not.toContain('"devDependencies"');
    }
    expect((await fetch(`${base}/api/pipelines`)).status).toBe(401); // the API stays closed
    const spec = await api('GET', '/docs/json');
    expect(Object.keys(spec.paths as object).filter((p) => p === '/' || p.startsWith('/web'))).toEqual([]);
  });
});

describe('dashboard in a browser', () => {
  it('shows pipelines failures first with the reason, filters by group and status, and schedules', async () => {
    const page = await openPage();
    const rows = page.locator('tbody tr[data-pipeline]');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-pipeline')))).toEqual([
      'payments',
      'gated',
      'orders',
    ]);
    // Status as text (readable without colour), and the failed run's reason.
    const payments = page.locator('tr[data-pipeline="payments"]');
    expect(await payments.locator('.status').innerText()).toContain('failed');
    expect(await payments.locator('.reason').innerText()).toContain('no_such_ledger');
    expect(await page.locator('tr[data-pipeline="gated"] .status').innerText()).toContain('never');
    const orders = page.locator('tr[data-pipeline="orders"]');
    expect(await orders.locator('.status').innerText()).toContain('succeeded');
    expect(await orders.innerText()).toContain('20 / 60');
    expect(await orders.locator('svg.runs-chart').getAttribute('aria-label')).toContain(
      'succeeded 20 loaded 60 rejected',
    );
    expect(await orders.innerText()).toContain('orders-nightly'); // next run, from its schedule
    expect(await page.locator('.health').innerText()).toMatch(/Service degraded/);
    const schedule = page.locator('tr[data-schedule="orders-nightly"]');
    expect(await schedule.innerText()).toMatch(/pipeline orders[\s\S]*0 2 \* \* \*[\s\S]*\d{4}-\d\d-\d\d/);
    const mail = page.locator('tr:has(th:text("billing@example.com"))');
    expect(await mail.innerText()).toMatch(/billing@example\.com\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    await shot(page, 'pipelines');

    await page.selectOption('#group', 'ops');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-pipeline')).toBe('gated');
    expect(page.url()).toContain('group=ops');
    await page.selectOption('#group', '');
    await page.selectOption('#status', 'failed');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-pipeline')).toBe('payments');
    await page.close();
  });

  it('opens a run: summary, step timings, files, log, rejects paged and searched, CSV download', async () => {
    const page = await openPage();
    await page.locator('tr[data-pipeline="orders"] td a').first().click();
    await page.waitForSelector('h1:has-text("Run of orders")');
    expect(await page.locator('.summary').innerText()).toMatch(/Rows rejected\s+60/);
    expect(await page.locator('svg.steps-chart').getAttribute('aria-label')).toMatch(/load \d/);
    expect(await page.locator('table:has(caption:text("Files of the run")) tbody').innerText()).toMatch(
      /part-0\.csv[\s\S]*loaded[\s\S]*60/,
    );
    expect(await page.locator('table.log tbody tr').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#reject-total').innerText()).toBe('60 rejects match.');
    const rejectRows = page.locator('#reject-results tbody tr');
    expect(await rejectRows.count()).toBe(50);
    await shot(page, 'run');
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(() => rejectRows.count()).toBe(10);

    const line = await rejectRows.first().locator('td').nth(1).innerText();
    await page.fill('#reject-line', line);
    await page.fill('#reject-file', 'part-0.csv');
    await page.keyboard.press('Enter'); // the search form sends on Enter
    await expect.poll(() => page.locator('#reject-total').innerText()).toBe('1 reject matches.');
    expect(await rejectRows.first().innerText()).toMatch(
      new RegExp(`^part-0\\.csv\\s+${line}\\s+id\\s+integer\\s+x\\d+`),
    );
    await page.fill('#reject-line', '');
    await page.fill('#reject-rule', 'no-such-rule');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#reject-total').innerText()).toBe('0 rejects match.');
    await page.fill('#reject-rule', '');
    await page.fill('#reject-file', '');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.trim().split('\r\n')).toHaveLength(61);
    expect(download.suggestedFilename()).toMatch(/^rejects-.*\.csv$/);
    await page.close();
  });

  it('refuses actions without the token, showing the API text; keyboard reaches and works them', async () => {
    const page = await openPage();
    await page.waitForSelector('tr[data-pipeline="gated"]');
    // Keyboard: the first Tab reaches the skip link, with a visible focus ring.
    await page.keyboard.press('Tab');
    // (Expressions as text: this file is compiled for Node, without the DOM's types.)
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');

    const run = page.getByRole('button', { name: 'Run gated now' });
    await run.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog.token-dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    const alert = page.locator('.notice-error').first();
    await expect.poll(() => alert.innerText()).toContain('send the token as Authorization: Bearer <token>');

    await run.click();
    await page.fill('#token-input', 'not-the-token');
    await page.keyboard.press('Enter');
    await expect.poll(() => alert.innerText()).toContain("the token is not this service's");
    expect(await page.locator('#token-state').innerText()).toContain('No token');
    await shot(page, 'refused');
    // Nothing ran.
    expect((await api('GET', '/api/runs?pipeline=gated')).runs).toHaveLength(0);
    await page.close();
  });

  it('runs a pipeline with the token, follows its progress live, and sees it finish', async () => {
    const page = await openPage();
    await page.getByRole('button', { name: 'Run gated now' }).click();
    await page.fill('#token-input', TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    expect(await page.locator('#token-state').innerText()).toContain('Token set');
    const follow = page.locator('.notice .follow').first();
    await expect.poll(() => follow.innerText(), { timeout: 60_000 }).toMatch(/gated\s+▶\s*running/);
    await follow.getByRole('link', { name: 'gated' }).click();
    await page.waitForSelector('h1:has-text("Run of gated")');
    await expect
      .poll(() => page.locator('#progress-text').innerText(), { timeout: 30_000 })
      .toMatch(/rows\/s/);
    // Live: the progress line changes by itself (its elapsed time grows) while the page stays loaded.
    const first = await page.locator('#progress-text').innerText();
    await expect.poll(() => page.locator('#progress-text').innerText(), { timeout: 30_000 }).not.toBe(first);
    await shot(page, 'run-live');
    await store.db.query(`INSERT INTO ${GATE_TABLE} VALUES (1)`);
    // The page redraws itself when the run ends: no reload.
    await expect
      .poll(() => page.locator('h1').innerText(), { timeout: 60_000 })
      .toMatch(/Run of gated\s+✓\s*succeeded/);
    expect(await page.locator('.summary').innerText()).toMatch(/Rows loaded\s+5/);
    await shot(page, 'run-finished');

    // Back on the pipelines page with the token kept for this tab: a schedule off and on, and a cleanup.
    await page.goto(`${service.url}/#/`);
    const schedule = page.locator('tr[data-schedule="orders-nightly"]');
    await page.getByRole('button', { name: 'Disable schedule orders-nightly' }).click();
    await expect.poll(() => schedule.innerText()).toMatch(/disabled[\s\S]*Enable/);
    expect((await api('GET', '/api/schedules/orders-nightly')).enabled).toBe(false);
    await page.getByRole('button', { name: 'Enable schedule orders-nightly' }).click();
    await expect.poll(() => schedule.innerText()).toMatch(/enabled[\s\S]*Disable/);
    await page.getByRole('button', { name: 'Clean up stale runs' }).click();
    await expect.poll(() => page.locator('.notice').first().innerText()).toMatch(/Cleanup: 0 stale runs/);
    await page.close();
  });

  it('runs a group, lists runs, and fits a phone', async () => {
    const page = await openPage();
    await page.selectOption('#group', 'sales');
    await page.getByRole('button', { name: 'Run group sales' }).click();
    // The token is asked once per tab: this new tab asks again.
    await page.fill('#token-input', TOKEN);
    await page.keyboard.press('Enter');
    const follow = page.locator('.notice .follow').first();
    await expect
      .poll(() => follow.innerText(), { timeout: 60_000 })
      .toMatch(/Group sales: (orders|payments)\s+\S+\s*\w+, (orders|payments)\s+\S+\s*\w+$/);
    await expect.poll(() => follow.innerText(), { timeout: 60_000 }).not.toContain('running');
    expect(await follow.innerText()).toMatch(/payments\s+✗\s*failed/);

    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.waitForSelector('h1:text("Runs")');
    expect(await page.locator('tbody tr').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('tbody').innerText()).toContain('no_such_ledger');
    await shot(page, 'runs');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${service.url}/#/`);
    await page.waitForSelector('tr[data-pipeline="orders"]');
    // The page itself does not scroll sideways; wide tables scroll inside their frame.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await shot(page, 'pipelines-phone');
    await page.close();
  });

  it('asks for the token before showing anything when the service keeps reads closed', async () => {
    const page = await openPage(closedService.url!);
    const dialog = page.locator('dialog.token-dialog');
    await dialog.waitFor();
    await page.fill('#token-input', TOKEN);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('tbody tr[data-pipeline]').count()).toBe(3);
    await page.close();
  });

  it('made only requests for the dashboard files and the API routes', async () => {
    const spec = await api('GET', '/docs/json');
    const routes = Object.keys(spec.paths as object).map(
      (p) => new RegExp(`^${p.replaceAll('.', '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    );
    const assets = new Set(['/', '/web/style.css', '/web/app.js']);
    const origins = new Set([new URL(service.url!).origin, new URL(closedService.url!).origin]);
    expect(requests.length).toBeGreaterThan(20);
    const outside: string[] = [];
    for (const r of requests) {
      const url = new URL(r.url());
      // A download is handed over as a blob: URL made in the page, not a request to any server.
      if (url.protocol === 'blob:') continue;
      const ok =
        origins.has(url.origin) &&
        (assets.has(url.pathname) ||
          /^\/web\/[a-z-]+\.js$/.test(url.pathname) ||
          (url.pathname.startsWith('/api/') && routes.some((re) => re.test(url.pathname))));
      if (!ok) outside.push(`${r.method()} ${r.url()}`);
    }
    expect(outside).toEqual([]);
  });
});
