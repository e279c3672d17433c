import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/plugins/index.js';
import { loadCatalog } from '../../src/scheduler/catalog.js';
import { tickRequestId } from '../../src/scheduler/scheduler.js';
import { startService, type RunningService } from '../../src/server/start-service.js';
import { saveSchedule } from '../../src/store/schedules.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { eventually, servicePipeline } from '../helpers/service-fixtures.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// On the embedded database one process does everything: the scheduler queues into memory and the same
// process runs the jobs.

let store: TestStore;
let service: RunningService;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  store = await createTestStore({ kind: 'pglite', prefix: 'sluice-embedded-service-' });
  const dir = await tempDir('sluice-embedded-pipelines-');
  await servicePipeline(dir, 'local', { rows: 2 });
  const registry = createRegistry();
  service = await startService({
    db: store.db,
    home: store.home,
    registry,
    catalog: await loadCatalog([dir], registry),
    logger: silent,
    port: 0,
    token: 'embedded-token',
    concurrency: 1,
    scheduler: true,
  });
});

afterAll(async () => {
  await service?.stop(5_000);
  await store?.close();
});

describe('sluice serve on the embedded database', () => {
  it('fires a schedule and runs its job in the same process', async () => {
    expect(service.context.queue.kind).toBe('in-process');
    await saveSchedule(store.db, {
      name: 'local-every-2s',
      cron: '*/2 * * * * *',
      timezone: 'UTC',
      kind: 'pipeline',
      target: 'local',
      options: { force: true },
      enabled: true,
      catchUp: 'skip',
    });
    const { rows } = await eventually('a tick of the schedule', async () => {
      const r = await store.db.query<{ fire_at: number }>(
        `SELECT (extract(epoch FROM fire_at) * 1000)::float8 AS fire_at FROM sluice.schedule_ticks
          WHERE schedule = 'local-every-2s' AND outcome = 'queued' ORDER BY fire_at LIMIT 1`,
      );
      return r.rows.length > 0 ? r : undefined;
    });
    const requestId = tickRequestId('local-every-2s', new Date(rows[0]!.fire_at));
    const run = await eventually('its run', async () => {
      const r = await store.db.query<{ status: string; rows_loaded: string }>(
        `SELECT status, rows_loaded::text FROM sluice.runs WHERE request_id = $1`,
        [requestId],
      );
      return r.rows[0]?.status === 'succeeded' ? r.rows[0] : undefined;
    });
    expect(run.rows_loaded).toBe('2');
    const status = await fetch(`${service.url}/api/status`, {
      headers: { authorization: 'Bearer embedded-token' },
    });
    expect(await status.json()).toMatchObject({
      parts: { scheduler: true, worker: true },
      queue: { kind: 'in-process' },
    });
  });
});
