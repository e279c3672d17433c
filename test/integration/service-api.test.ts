import { randomUUID } from 'node:crypto';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/plugins/index.js';
import { loadCatalog } from '../../src/scheduler/catalog.js';
import { checkJob } from '../../src/scheduler/job-kinds.js';
import { readServiceFile } from '../../src/scheduler/service-config.js';
import { startService, type RunningService } from '../../src/server/start-service.js';
import { ensureBuilt, runBin } from '../helpers/bin.js';
import { REPO, tempDir } from '../helpers/pipeline-harness.js';
import { eventually, servicePipeline } from '../helpers/service-fixtures.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// The API's contract, route by route: auth, bad input naming the field, unknown names, seed 004's routes
// with the bodies its README documents. One in-process service over a fresh PostgreSQL database.

const TOKEN = 'test-token-1234';
let store: TestStore;
let service: RunningService;
let openService: RunningService;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  store = await createTestStore({ prefix: 'sluice-api-' });
  const dir = await tempDir('sluice-api-pipelines-');
  await servicePipeline(dir, 'alpha', { group: ['g1'], rows: 3, bad: 2 });
  await servicePipeline(dir, 'beta', { group: ['g1'], rows: 2 });
  await servicePipeline(dir, 'pulso.dashboard_data', { group: ['pulso', 'dashboard'], rows: 4 });
  await servicePipeline(dir, 'pulso.evolution_data', { group: ['pulso'], rows: 1 });
  const registry = createRegistry();
  const catalog = await loadCatalog([dir], registry);
  const common = { db: store.db, home: store.home, registry, catalog, logger: silent };
  service = await startService({
    ...common,
    port: 0,
    token: TOKEN,
    concurrency: 2,
    etl: { tables: 'pulso', dashboard: 'dashboard', openRefresh: false },
  });
  openService = await startService({ ...common, port: 0, openReads: true, concurrency: 0 });
});

afterAll(async () => {
  await service?.stop(5_000);
  await openService?.stop(5_000);
  await store?.close();
});

interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  type: string;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string | null; base?: string } = {},
): Promise<Reply> {
  const token = options.token === undefined ? TOKEN : options.token;
  const response = await fetch(`${options.base ?? service.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text, type: response.headers.get('content-type') ?? '' };
}

/** Waits until every run of a request has ended, and returns them. */
async function finished(requestId: string, runs = 1) {
  return eventually(`the runs of request ${requestId}`, async () => {
    const r = await call('GET', `/api/requests/${requestId}`);
    const list = r.body.runs as { status: string }[];
    return list.length === runs && list.every((x) => x.status !== 'running') ? r.body.runs : undefined;
  });
}

function expectError(r: Reply, status: number, field?: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.body.error.code).toBeTypeOf('string');
  expect(r.body.error.message).toBeTypeOf('string');
  expect(r.text).not.toMatch(/\n\s+at /); // no stack trace
  if (field) expect(r.body.error.field).toBe(field);
}

describe('health, docs and auth', () => {
  it('answers liveness, readiness and the OpenAPI description without a token', async () => {
    expect((await call('GET', '/health', undefined, { token: null })).body).toEqual({ status: 'ok' });
    const ready = await call('GET', '/ready', undefined, { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    const docs = await call('GET', '/docs/json', undefined, { token: null });
    expect(docs.body.openapi).toMatch(/^3\./);
    expect(Object.keys(docs.body.paths)).toEqual(
      expect.arrayContaining(['/api/pipelines', '/api/runs/{id}/rejects', '/api/v1/etl/refresh/dashboard']),
    );
    // The request schemas come from the zod specs: the schedule body documents its fields.
    const post = docs.body.paths['/api/schedules'].post;
    expect(JSON.stringify(post.requestBody)).toContain('catchUp');
  });

  it('refuses reads and changes without the token, and a wrong token', async () => {
    expectError(await call('GET', '/api/pipelines', undefined, { token: null }), 401);
    expectError(await call('GET', '/api/pipelines', undefined, { token: 'nope' }), 403);
    expectError(await call('POST', '/api/pipelines/alpha/run', {}, { token: null }), 401);
    expectError(await call('POST', '/api/v1/etl/refresh/dashboard', { force: true }, { token: null }), 401);
    expectError(await call('GET', '/metrics', undefined, { token: null }), 401);
  });

  it('opens reads by configuration, never changes; without a token changes are refused', async () => {
    const base = openService.url!;
    expect((await call('GET', '/api/pipelines', undefined, { token: null, base })).status).toBe(200);
    const refused = await call('POST', '/api/pipelines/alpha/run', {}, { token: 'anything', base });
    expectError(refused, 401);
    expect(refused.body.error.hint).toContain('SLUICE_API_TOKEN');
  });
});

describe('pipelines and runs', () => {
  let runId: string;

  it('queues a run and answers at once; the run goes through the queue', async () => {
    const r = await call('POST', '/api/pipelines/alpha/run', { force: true });
    expect(r.status, r.text).toBe(202);
    expect(r.body).toMatchObject({ kind: 'pipeline', target: 'alpha', queue: 'in-process' });
    const [run] = await finished(r.body.requestId);
    expect(run).toMatchObject({ pipeline: 'alpha', status: 'succeeded', rowsLoaded: 3, rowsRejected: 2 });
    expect(run.requestId).toBe(r.body.requestId);
    runId = run.id;
  });

  it('shows a run with its steps, files (ledger status), log, rejects paged and filtered, and CSV', async () => {
    const run = await call('GET', `/api/runs/${runId}`);
    expect(run.status).toBe(200);
    expect(run.body.files).toEqual([
      expect.objectContaining({ name: 'part-0.csv', status: 'loaded', rowsRejected: 2 }),
    ]);
    expect(run.body.steps.map((s: { step: string }) => s.step)).toContain('load');
    // Times are ISO 8601 in UTC, whatever the database session's DateStyle.
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    expect(run.body.startedAt).toMatch(iso);
    expect(run.body.files[0].recordedAt).toMatch(iso);
    const log = await call('GET', `/api/runs/${runId}/log?limit=2`);
    expect(log.body.entries).toHaveLength(2);
    const rest = await call('GET', `/api/runs/${runId}/log?after=${log.body.next}`);
    expect(rest.body.entries.length).toBeGreaterThan(0);
    expect(BigInt(rest.body.entries[0].id)).toBeGreaterThan(BigInt(log.body.next));

    const page1 = await call('GET', `/api/runs/${runId}/rejects?limit=1`);
    expect(page1.body.total).toBe(2);
    expect(page1.body.rejects).toHaveLength(1);
    const page2 = await call('GET', `/api/runs/${runId}/rejects?limit=1&after=${page1.body.next}`);
    expect(page2.body.rejects[0].id).not.toBe(page1.body.rejects[0].id);
    const line = page2.body.rejects[0].line as number;
    const byLine = await call(
      'GET',
      `/api/runs/${runId}/rejects?line=${line}&file=part-0.csv&rule=${page2.body.rejects[0].rule}`,
    );
    expect(byLine.body.total).toBe(1);
    expect((await call('GET', `/api/runs/${runId}/rejects?rule=nope`)).body.total).toBe(0);
    const csv = await call('GET', `/api/runs/${runId}/rejects.csv`);
    expect(csv.type).toContain('text/csv');
    expect(csv.text.trim().split('\r\n')).toHaveLength(3);
    expect(csv.text).toContain('bad row 0');

    const progress = await call('GET', `/api/runs/${runId}/progress`);
    expect(progress.body).toMatchObject({ status: 'succeeded', rowsRead: 5, live: false });
  });

  it('lists pipelines with group, status, last run, next run and the last runs in one request', async () => {
    const r = await call('GET', '/api/pipelines?recent=5');
    const alpha = r.body.pipelines.find((p: { name: string }) => p.name === 'alpha');
    expect(alpha).toMatchObject({ groups: ['g1'], status: 'succeeded', configured: true });
    expect(alpha.lastRun).toMatchObject({ id: runId, rowsLoaded: 3, rowsRejected: 2 });
    expect(alpha.recent).toHaveLength(1);
    const beta = r.body.pipelines.find((p: { name: string }) => p.name === 'beta');
    expect(beta).toMatchObject({ status: 'never', lastRun: null, recent: [] });
    expect((await call('GET', '/api/pipelines/alpha')).body).toMatchObject({
      name: 'alpha',
      source: 'files',
    });
    expect((await call('GET', '/api/pipelines?group=pulso')).body.pipelines).toHaveLength(2);
    expect((await call('GET', '/api/groups')).body.groups).toContainEqual({
      name: 'g1',
      pipelines: ['alpha', 'beta'],
    });
    expect((await call('GET', `/api/runs?pipeline=alpha&limit=1`)).body.runs[0].id).toBe(runId);
  });

  it('runs a group through the queue, one run per pipeline', async () => {
    const r = await call('POST', '/api/groups/run', { group: 'g1', maxConcurrent: 2, force: true });
    expect(r.status, r.text).toBe(202);
    const runs = await finished(r.body.requestId, 2);
    expect(runs.map((x: { pipeline: string }) => x.pipeline).sort()).toEqual(['alpha', 'beta']);
    const listed = await call('POST', '/api/groups/g1/run', { pipelines: ['beta'] });
    expect((await finished(listed.body.requestId, 1))[0].pipeline).toBe('beta');
  });

  it('says which field is wrong, and 404 for unknown names', async () => {
    expectError(await call('POST', '/api/pipelines/alpha/run', { force: 'yes' }), 400, 'body.force');
    expectError(await call('POST', '/api/pipelines/alpha/run', { forse: true }), 400, 'body.forse');
    expectError(await call('POST', '/api/pipelines/alpha/run', { asOf: '30/11/2026' }), 400, 'body.asOf');
    expectError(
      await call('POST', '/api/groups/run', { group: 'g1', maxConcurrent: 0 }),
      400,
      'body.maxConcurrent',
    );
    expectError(await call('POST', '/api/groups/run', { group: 'nope' }), 400, 'body.group');
    expectError(await call('POST', '/api/groups/run', { pipelines: ['nope'] }), 400, 'body.pipelines.0');
    expectError(await call('GET', '/api/runs?limit=0'), 400, 'querystring.limit');
    expectError(await call('POST', '/api/jobs', { kind: 'nope' }), 400, 'body.kind');
    expectError(await call('POST', '/api/pipelines/nope/run', {}), 404);
    expectError(await call('POST', '/api/groups/nope/run', {}), 404);
    expectError(await call('GET', '/api/pipelines/nope'), 404);
    expectError(await call('GET', '/api/runs/00000000-0000-0000-0000-000000000000'), 404);
    expectError(await call('GET', '/api/runs/not-a-uuid/rejects'), 404);
    expect((await call('GET', '/api/requests/nope')).body).toEqual({ requestId: 'nope', runs: [] });
  });
});

describe('schedules', () => {
  it('adds, lists, edits, disables, enables and deletes, checking what they run', async () => {
    const body = {
      name: 'alpha-daily',
      cron: '0 6 * * *',
      timezone: 'Europe/Madrid',
      kind: 'pipeline',
      target: 'alpha',
    };
    const created = await call('POST', '/api/schedules', body);
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ ...body, enabled: true, catchUp: 'skip' });
    expect(created.body.nextRun).toMatch(/T0[45]:00:00/); // 06:00 in Madrid is 04:00 or 05:00 UTC
    expectError(await call('POST', '/api/schedules', body), 409);
    expectError(
      await call('POST', '/api/schedules', { ...body, name: 'x', cron: '61 * * * *' }),
      400,
      'body.cron',
    );
    expectError(
      await call('POST', '/api/schedules', { ...body, name: 'x', timezone: 'Mars/Base' }),
      400,
      'body.timezone',
    );
    expectError(
      await call('POST', '/api/schedules', { ...body, name: 'x', target: 'nope' }),
      400,
      'body.target',
    );
    expectError(
      await call('POST', '/api/schedules', { ...body, name: 'x', catchUp: 'all' }),
      400,
      'body.catchUp',
    );
    expectError(
      await call('POST', '/api/schedules', { ...body, name: 'x', options: { force: 'yes' } }),
      400,
      'body.options.force',
    );

    const pipelines = (await call('GET', '/api/pipelines')).body.pipelines;
    const alpha = pipelines.find((p: { name: string }) => p.name === 'alpha');
    expect(alpha.schedules).toEqual(['alpha-daily']);
    expect(alpha.nextRun).toBe(created.body.nextRun);

    const edited = await call('PATCH', '/api/schedules/alpha-daily', {
      cron: '30 7 * * 1-5',
      catchUp: 'once',
    });
    expect(edited.body).toMatchObject({ cron: '30 7 * * 1-5', catchUp: 'once', timezone: 'Europe/Madrid' });
    expectError(await call('PATCH', '/api/schedules/alpha-daily', { name: 'renamed' }), 400, 'body.name');
    expectError(await call('PATCH', '/api/schedules/nope', { cron: '* * * * *' }), 404);
    expect((await call('POST', '/api/schedules/alpha-daily/disable')).body.enabled).toBe(false);
    expect((await call('GET', '/api/pipelines/alpha')).body.nextRun).toBeNull();
    expect((await call('POST', '/api/schedules/alpha-daily/enable')).body.enabled).toBe(true);
    expectError(await call('POST', '/api/schedules/nope/enable'), 404);
    expect((await call('GET', '/api/schedules')).body.schedules).toHaveLength(1);
    expect((await call('GET', '/api/schedules/alpha-daily')).body.ticks).toEqual([]);
    expect((await call('DELETE', '/api/schedules/alpha-daily')).body).toEqual({ deleted: 'alpha-daily' });
    expectError(await call('DELETE', '/api/schedules/alpha-daily'), 404);
  });
});

describe("seed 004's routes", () => {
  it('refreshes the dashboard with the documented body, and one table with ?force=true', async () => {
    const r = await call('POST', '/api/v1/etl/refresh/dashboard', {
      force: false,
      tables: ['dashboard_data', 'evolution_data'],
      max_concurrent: 2,
    });
    expect(r.status, r.text).toBe(202);
    expect(r.body).toMatchObject({
      status: 'accepted',
      tables: ['dashboard_data', 'evolution_data'],
      max_concurrent: 2,
    });
    await finished(r.body.request_id, 2);
    // The frontend's own call: `{ force }` alone runs the dashboard group.
    const dash = await call('POST', '/api/v1/etl/refresh/dashboard', { force: true });
    expect(dash.body.tables).toEqual(['dashboard_data']);
    await finished(dash.body.request_id, 1);
    const one = await call('POST', '/api/v1/etl/refresh/table/evolution_data?force=true');
    expect(one.status, one.text).toBe(202);
    await finished(one.body.request_id, 1);

    expectError(
      await call('POST', '/api/v1/etl/refresh/dashboard', { tables: ['nope'] }),
      400,
      'body.tables[0]',
    );
    expectError(
      await call('POST', '/api/v1/etl/refresh/dashboard', { max_concurrent: 'two' }),
      400,
      'body.max_concurrent',
    );
    expectError(await call('POST', '/api/v1/etl/refresh/table/nope?force=true'), 404);
    expectError(
      await call('POST', '/api/v1/etl/refresh/table/evolution_data?force=maybe'),
      400,
      'querystring.force',
    );
  });

  it('reports status, one table, health, config and cleans up', async () => {
    const status = await call('GET', '/api/v1/etl/status');
    expect(status.body.status).toBe('healthy');
    const dashboard = status.body.tables.find(
      (t: { table_name: string }) => t.table_name === 'dashboard_data',
    );
    // Its latest run found its file loaded already (the ledger): nothing new.
    expect(dashboard).toMatchObject({
      pipeline: 'pulso.dashboard_data',
      status: 'succeeded',
      records_loaded: 0,
    });
    expect(dashboard.last_success).toBe(dashboard.last_extraction);
    expect((await call('GET', '/api/v1/etl/status/table/evolution_data')).body).toMatchObject({
      table_name: 'evolution_data',
      status: 'succeeded',
    });
    expectError(await call('GET', '/api/v1/etl/status/table/nope'), 404);
    expect((await call('GET', '/api/v1/etl/health')).body).toMatchObject({
      status: 'healthy',
      database: 'ok',
    });
    const tables = (await call('GET', '/api/v1/etl/config/tables')).body.tables;
    expect(tables.map((t: { table_name: string }) => t.table_name)).toEqual([
      'dashboard_data',
      'evolution_data',
    ]);
    const cleaned = await call('POST', '/api/v1/etl/cleanup');
    expect(cleaned.body).toMatchObject({ reaped: [], retried: [] });
  });
});

describe('status, admin and metrics', () => {
  it('reports status, mail accounts, rules, reports, job kinds and cleanup', async () => {
    const status = await call('GET', '/api/status');
    expect(status.body).toMatchObject({ status: 'healthy', parts: { worker: true } });
    expect(status.body.counts.pipelines).toBe(4);
    expect(status.body.recent.length).toBeGreaterThan(0);
    expect((await call('GET', '/api/mail/accounts')).body).toEqual({ accounts: [] });
    expect((await call('GET', '/api/rules')).body).toEqual({ rules: [] });
    expect((await call('GET', '/api/reports')).body).toEqual({ reports: [] });
    expectError(await call('POST', '/api/reports/nope/send'), 404);
    expectError(await call('POST', '/api/rules/nope/enable'), 404);
    const kinds = (await call('GET', '/api/job-kinds')).body.kinds.map((k: { name: string }) => k.name);
    expect(kinds).toEqual(
      expect.arrayContaining(['pipeline', 'group', 'report', 'inboxPoll', 'watchImports', 'cleanup']),
    );
    expect((await call('POST', '/api/cleanup', { retry: true })).body).toMatchObject({
      reaped: [],
      retried: [],
    });
    expectError(await call('POST', '/api/cleanup', { retry: 'yes' }), 400, 'body.retry');
  });

  it('exports metrics that parse as Prometheus text and match sluice.runs', async () => {
    const r = await call('GET', '/metrics');
    expect(r.status).toBe(200);
    const families = parsePrometheusTextFormat(r.text);
    const family = (name: string) => families.find((f) => f.name === name);
    const { rows } = await store.db.query<{ pipeline: string; status: string; n: string; loaded: string }>(
      `SELECT pipeline, status, count(*)::text AS n, sum(rows_loaded)::text AS loaded FROM sluice.runs GROUP BY 1, 2`,
    );
    expect(rows.length).toBeGreaterThan(0);
    const runs = family('sluice_runs_total')!;
    expect(runs.type).toBe('COUNTER');
    for (const row of rows) {
      const sample = runs.metrics.find(
        (m) => m.labels?.pipeline === row.pipeline && m.labels?.status === row.status,
      );
      expect(Number(sample?.value), `${row.pipeline} ${row.status}`).toBe(Number(row.n));
    }
    expect(runs.metrics).toHaveLength(rows.length);
    const loaded = family('sluice_rows_loaded_total')!.metrics.find((m) => m.labels?.pipeline === 'alpha');
    const alphaLoaded = rows.filter((x) => x.pipeline === 'alpha').reduce((s, x) => s + Number(x.loaded), 0);
    expect(Number(loaded?.value)).toBe(alphaLoaded);
    const durations = family('sluice_run_duration_seconds')!;
    expect(durations.type).toBe('HISTOGRAM');
    // (The parser drops a histogram's labels: its count is read from the text.)
    const alphaRuns = rows.find((x) => x.pipeline === 'alpha' && x.status === 'succeeded')!.n;
    expect(r.text).toContain(
      `sluice_run_duration_seconds_count{pipeline="alpha",status="succeeded"} ${alphaRuns}\n`,
    );
    expect(r.text).toContain(
      `sluice_run_duration_seconds_bucket{pipeline="alpha",status="succeeded",le="+Inf"} ${alphaRuns}\n`,
    );
    expect(family('sluice_last_success_timestamp_seconds')!.metrics.length).toBeGreaterThan(0);
    expect(family('sluice_queue_jobs')).toBeDefined();
    expect(family('sluice_queue_oldest_job_age_seconds')).toBeDefined();
    expect(family('sluice_job_duration_seconds')).toBeDefined();
  });

  it('keeps counters from going down when maintenance purges runs (Prometheus would see a reset)', async () => {
    const id = randomUUID();
    await store.db.query(
      `INSERT INTO sluice.runs (id, pipeline, status, as_of, started_at, ended_at)
       VALUES ($1, 'purged', 'succeeded', '2026-11-01', now() - interval '2 seconds', now())`,
      [id],
    );
    const series = [
      'sluice_runs_total{pipeline="purged",status="succeeded"} 1\n',
      'sluice_run_duration_seconds_count{pipeline="purged",status="succeeded"} 1\n',
      'sluice_run_duration_seconds_bucket{pipeline="purged",status="succeeded",le="5"} 1\n',
    ];
    const before = (await call('GET', '/metrics')).text;
    for (const line of series) expect(before).toContain(line);
    await store.db.query('DELETE FROM sluice.runs WHERE id = $1', [id]);
    const after = (await call('GET', '/metrics')).text;
    for (const line of series) expect(after).toContain(line);
  });
});

describe('the examples as a service', () => {
  it('examples/service.yaml reads, and every schedule in it runs something the service knows', async () => {
    const env = { VISITS_SOURCE: '/tmp', PULSO_SOURCE_URL: 'postgres:///pulso_source' };
    const service = await readServiceFile(path.join(REPO, 'examples/service.yaml'), env);
    const catalog = await loadCatalog(service.pipelines, createRegistry(), env);
    expect(catalog.get('visits')).toBeDefined();
    expect(catalog.group('pulso')).toHaveLength(5);
    expect(service.schedules.map((s) => s.kind)).toEqual(
      expect.arrayContaining(['pipeline', 'watchImports', 'report', 'group', 'cleanup']),
    );
    for (const s of service.schedules) expect(checkJob(catalog, s).problems, s.name).toEqual([]);
    expect(service.etl).toMatchObject({ tables: 'pulso', dashboard: 'dashboard' });
  });
});

describe('sluice schedule and sluice cron (the real bin)', () => {
  it('adds, edits, lists, disables and removes schedules; wrong input exits 2 naming the option', async () => {
    await ensureBuilt();
    const env = store.env;
    const add = await runBin(
      [
        'schedule',
        'add',
        'cli-daily',
        '--cron',
        '0 6 * * *',
        '--timezone',
        'Europe/Madrid',
        '--kind',
        'pipeline',
        '--target',
        'alpha',
      ],
      { env },
    );
    expect(add.code, add.stderr).toBe(0);
    expect(
      (
        await runBin(['schedule', 'edit', 'cli-daily', '--option', 'force=true', '--catch-up', 'once'], {
          env,
        })
      ).code,
    ).toBe(0);
    const listed = await runBin(['schedule', 'list', '--json'], { env });
    expect(JSON.parse(listed.stdout)).toContainEqual(
      expect.objectContaining({
        name: 'cli-daily',
        options: { force: true },
        catchUp: 'once',
        enabled: true,
      }),
    );
    // The API sees what the CLI wrote.
    expect((await call('GET', '/api/schedules/cli-daily')).body).toMatchObject({
      cron: '0 6 * * *',
      catchUp: 'once',
    });
    const bad = await runBin(
      ['schedule', 'add', 'x', '--cron', '0 25 * * *', '--kind', 'pipeline', '--option', 'force=yes'],
      {
        env,
      },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--cron');
    expect(bad.stderr).toContain('--option force');
    expect(bad.stderr).toContain('--target');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    expect((await runBin(['schedule', 'disable', 'nope'], { env })).code).toBe(2);
    expect((await runBin(['schedule', 'disable', 'cli-daily'], { env })).code).toBe(0);
    expect((await runBin(['schedule', 'remove', 'cli-daily'], { env })).code).toBe(0);
  });
});
