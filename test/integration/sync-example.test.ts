import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { REPO, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const EXAMPLE = path.join(REPO, 'examples/sync');
const PIPELINES = path.join(EXAMPLE, 'pipelines');
const TABLES = ['assignment_data', 'dashboard_data', 'evolution_data', 'operation_data', 'productivity_data'];

// The shipped example, through the CLI as a user runs it: one source database, one target.
describe('examples/sync', () => {
  let source: TestDatabase;
  let target: TestDatabase;
  let src: pg.Client;
  let dst: pg.Client;
  let env: Record<string, string>;

  beforeAll(async () => {
    [source, target] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    src = new pg.Client({ connectionString: source.url });
    dst = new pg.Client({ connectionString: target.url });
    await Promise.all([src.connect(), dst.connect()]);
    await src.query(await readFile(path.join(EXAMPLE, 'source.sql'), 'utf8'));
    env = {
      PULSO_SOURCE_URL: source.url,
      DATABASE_URL: target.url,
      SLUICE_HOME: await tempDir('sluice-sync-ex-'),
    };
  });

  afterAll(async () => {
    await src?.end();
    await dst?.end();
    await source?.drop();
    await target?.drop();
  });

  const count = async (client: pg.Client, table: string, where = '') =>
    Number((await client.query(`SELECT count(*) AS n FROM pulso.${table} ${where}`)).rows[0].n);

  it('syncs the five tables as a group, then skips them inside their refresh windows', async () => {
    const valid = await runCli(['validate', PIPELINES], env);
    expect(valid.code).toBe(0);
    expect(valid.stdout.match(/: ok \(pipeline pulso\.\w+: sql → postgres\)/g)).toHaveLength(5);

    const first = await runCli(['run', '--group', 'pulso', '--max-concurrent', '3', PIPELINES], env);
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^5 of 5 pipelines succeeded/);
    for (const table of TABLES) {
      // operation_data is a sliding window: only its last two days come over on the first run.
      const where = table === 'operation_data' ? `WHERE fecha_hora >= current_date - 2` : '';
      expect(await count(dst, table), table).toBe(await count(src, table, where));
    }

    const ledger = await runCli(['runs', '--pipeline', 'pulso.dashboard_data'], env);
    expect(ledger.stdout).toMatch(/pulso\.dashboard_data\s+succeeded\s.*\s180\s+0\s+1 table$/m);

    const again = await runCli(['run', '--group', 'dashboard', PIPELINES], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/pulso\.dashboard_data\s+skipped\s+last successful run started/);
    expect(again.stdout).toMatch(/pulso\.evolution_data\s+skipped/);
  });

  it('picks up new, changed and late rows on a forced run, keeping one copy of each', async () => {
    await src.query(`
      UPDATE pulso.dashboard_data SET pagos = 999.99 WHERE fecha_foto = current_date - 2 AND cartera = 'ALTAS';
      INSERT INTO pulso.dashboard_data VALUES (current_date + 1, 'carga_manana.csv', 'ALTAS', 'MOVIL', 1, 1, 1);
      DELETE FROM pulso.assignment_data WHERE cartera = 'CASTIGO'`);
    const forced = await runCli(['run', '--group', 'pulso', '--force', '--json', PIPELINES], env);
    expect(forced.code).toBe(0);
    const results = JSON.parse(forced.stdout) as {
      pipeline: string;
      status: string;
      summary: { rowsRead: number };
    }[];
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);
    // The 8 days from watermark − 7 days to the watermark, both included (6 rows a day), plus the new one.
    expect(results.find((r) => r.pipeline === 'pulso.dashboard_data')?.summary.rowsRead).toBe(8 * 6 + 1);

    expect(await count(dst, 'dashboard_data')).toBe(await count(src, 'dashboard_data'));
    const paid = await dst.query(
      `SELECT DISTINCT pagos::text FROM pulso.dashboard_data WHERE fecha_foto = current_date - 2 AND cartera = 'ALTAS'`,
    );
    expect(paid.rows).toEqual([{ pagos: '999.99' }]);
    expect(await count(dst, 'assignment_data', `WHERE cartera = 'CASTIGO'`)).toBe(0);

    const state = await runCli(['state', 'show', 'pulso.dashboard_data', '--json'], env);
    const [watermark] = JSON.parse(state.stdout) as {
      key: string;
      value: { column: string; value: string };
    }[];
    const tomorrow = (await src.query(`SELECT (current_date + 1)::text AS d`)).rows[0].d as string;
    expect(watermark).toMatchObject({ key: 'watermark', value: { column: 'fecha_foto', value: tomorrow } });
  });

  it('state reset makes the next run read everything again, and the upsert keeps one copy', async () => {
    const asked = await runCli(['state', 'reset', 'pulso.dashboard_data'], env);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toMatch(/would forget watermark of pulso\.dashboard_data; add --yes/);
    const reset = await runCli(['state', 'reset', 'pulso.dashboard_data', '--yes'], env);
    expect(reset.stdout).toMatch(/forgot 1 state entry of pulso\.dashboard_data/);
    const shown = await runCli(['state', 'show', 'pulso.dashboard_data'], env);
    expect(shown.stdout).toMatch(/no state saved for pulso\.dashboard_data/);

    const rerun = await runCli(
      ['run', '--force', '--json', path.join(PIPELINES, 'dashboard_data.yaml')],
      env,
    );
    expect(rerun.code).toBe(0);
    const summary = JSON.parse(rerun.stdout) as { rowsRead: number };
    expect(summary.rowsRead).toBe(await count(src, 'dashboard_data'));
    expect(await count(dst, 'dashboard_data')).toBe(await count(src, 'dashboard_data'));
  });

  it('one failing table does not stop the group; cleanup --retry reruns it once it can succeed', async () => {
    await src.query('ALTER TABLE pulso.evolution_data RENAME TO evolution_data_moved');
    const partial = await runCli(['run', '--group', 'dashboard', '--force', PIPELINES], env);
    expect(partial.code).toBe(1);
    expect(partial.stdout).toMatch(/^1 of 2 pipelines succeeded/);
    expect(partial.stdout).toMatch(/pulso\.dashboard_data\s+succeeded/);
    expect(partial.stdout).toMatch(/pulso\.evolution_data\s+failed\s+.*evolution_data.* does not exist/);

    await src.query('ALTER TABLE pulso.evolution_data_moved RENAME TO evolution_data');
    await src.query(`INSERT INTO pulso.evolution_data VALUES (current_date + 1, 'ALTAS', 0.5, 0.25)`);
    const cleanup = await runCli(['cleanup', '--retry'], env);
    expect(cleanup.code).toBe(0);
    expect(cleanup.stdout).toMatch(/nothing to clean up/);
    expect(cleanup.stdout).toMatch(/retried 1 pipeline:[\s\S]*pulso\.evolution_data\s+succeeded/);
    expect(await count(dst, 'evolution_data')).toBe(await count(src, 'evolution_data'));
  });

  it('a second run of a running table refuses, saying since when and which run', async () => {
    // Slow the source down so the first run is still reading when the second starts.
    await src.query(`CREATE OR REPLACE VIEW pulso.slow_productivity AS
      SELECT p.* FROM pulso.productivity_data p CROSS JOIN LATERAL (SELECT 1 FROM pg_sleep(0.01 + length(p.agente) * 0)) AS s(x)`);
    const file = path.join(await tempDir('sluice-sync-slow-'), 'slow.yaml');
    const yaml = (await readFile(path.join(PIPELINES, 'productivity_data.yaml'), 'utf8'))
      .replace('table: pulso.productivity_data\n', 'table: pulso.slow_productivity\n')
      .replace('name: pulso.productivity_data', 'name: pulso.slow');
    await writeFile(file, yaml);

    const first = startCli(['run', '--force', file], env);
    let running = false;
    for (let i = 0; i < 400 && !running; i++) {
      const { rows } = await dst.query(
        `SELECT 1 FROM sluice.runs WHERE pipeline = 'pulso.slow' AND status = 'running'`,
      );
      running = rows.length > 0;
      if (!running) await new Promise((r) => setTimeout(r, 25));
    }
    expect(running).toBe(true);
    const second = await runCli(['run', '--force', file], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/pipeline pulso\.slow is already running since .+, run [0-9a-f-]{36}/);
    expect(second.stderr).not.toMatch(/\n\s+at /); // an expected failure: no stack trace
    const done = await first.done;
    expect(done.code).toBe(0);
  });
});
