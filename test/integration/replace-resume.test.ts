import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../helpers/test-mysql-database.js';

// A full refresh (`mode: replace`) killed at each point of its run, then run again: the target must hold
// the source's rows exactly once, whatever the kill point. The pauses are SQL steps that sleep until the
// test kills the process; what the killed client's server session still holds is ended like a server's
// idle-session reaper would.

const ROWS = 1000;
let source: TestDatabase;
let control: TestDatabase;
let maria: TestMysqlDatabase;
let admin: pg.Client;
let controlClient: pg.Client;
let home: string;
let dir: string;

beforeAll(async () => {
  [source, control, maria] = await Promise.all([
    createTestDatabase(),
    createTestDatabase(),
    createTestMysqlDatabase(),
  ]);
  const src = new pg.Client({ connectionString: source.url });
  await src.connect();
  await src.query(`CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, ${ROWS}) g`);
  await src.end();
  admin = new pg.Client({ connectionString: control.url });
  await admin.connect();
  controlClient = admin;
  home = await tempDir('sluice-replace-');
  dir = await tempDir('sluice-replace-pipelines-');
});

afterAll(async () => {
  await admin?.end();
  await Promise.all([source?.drop(), control?.drop(), maria?.drop()]);
});

type Target = 'postgres' | 'mysql';
type KillPoint = 'setup' | 'afterLoad' | 'afterRun';

const sleepSql = (target: Target, variable: string) =>
  target === 'postgres' ? `SELECT pg_sleep(\${${variable}:-0})` : `SELECT SLEEP(\${${variable}:-0})`;

async function pipelineFile(target: Target, name: string): Promise<string> {
  const file = path.join(dir, `${name}.yaml`);
  const load =
    target === 'postgres'
      ? ['  type: postgres', `  table: ${name}`]
      : ['  type: mysql', '  url: ${MARIA_URL}', `  table: ${name}`];
  await writeFile(
    file,
    [
      `name: ${name}`,
      'source:',
      '  type: sql',
      '  url: ${SOURCE_URL}',
      '  table: items',
      '  primaryKey: [id]',
      '  mode: full_refresh',
      'load:',
      ...load,
      '  mode: replace',
      `  setup: "${sleepSql(target, 'PAUSE_SETUP')}"`,
      `  afterLoad: "${sleepSql(target, 'PAUSE_LOAD')}"`,
      `  afterRun: "${sleepSql(target, 'PAUSE_RUN')}"`,
    ].join('\n') + '\n',
  );
  return file;
}

/** Waits until the pause's statement runs, then returns a function ending that server session. */
async function waitForPause(target: Target): Promise<() => Promise<void>> {
  for (let i = 0; i < 2400; i++) {
    if (target === 'postgres') {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE 'SELECT pg_sleep(600)%'`,
        [control.name],
      );
      const pid = rows[0]?.pid;
      if (pid !== undefined)
        return async () => void (await admin.query('SELECT pg_terminate_backend($1)', [pid]));
    } else {
      const rows = await maria.query<{ id: number }>(
        `SELECT id FROM information_schema.processlist WHERE db = ? AND info LIKE 'SELECT SLEEP(600)%'`,
        [maria.name],
      );
      const id = rows[0]?.id;
      if (id !== undefined) return async () => void (await maria.query(`KILL ${Number(id)}`));
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the pause never started');
}

async function targetCount(target: Target, table: string): Promise<number> {
  if (target === 'postgres')
    return Number((await controlClient.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  const rows = await maria.query<{ n: number }>(`SELECT count(*) AS n FROM \`${table}\``);
  return Number(rows[0]!.n);
}

const PAUSE: Record<KillPoint, string> = {
  setup: 'PAUSE_SETUP',
  afterLoad: 'PAUSE_LOAD',
  afterRun: 'PAUSE_RUN',
};

describe('a full refresh killed at any point, then run again, leaves exactly the source rows', () => {
  for (const target of ['postgres', 'mysql'] as const) {
    for (const point of ['setup', 'afterLoad', 'afterRun'] as const) {
      it(`${target} target, killed during ${point}`, async () => {
        const name = `items_${target}_${point}`.toLowerCase();
        const file = await pipelineFile(target, name);
        const env = {
          DATABASE_URL: control.url,
          SLUICE_HOME: home,
          SOURCE_URL: source.url,
          MARIA_URL: maria.url,
        };
        // A first clean run, so the kill happens to a table that already holds a full copy.
        const clean = await runCli(['run', file], env);
        expect(clean.code, clean.stderr).toBe(0);
        expect(await targetCount(target, name)).toBe(ROWS);

        const killed = startCli(['run', '--force', file], { ...env, [PAUSE[point]]: '600' });
        const endSession = await waitForPause(target);
        killed.child.kill('SIGKILL');
        await killed.done;
        await endSession();

        const rerun = await runCli(['run', '--force', file], env);
        expect(rerun.code, rerun.stderr).toBe(0);
        expect(await targetCount(target, name)).toBe(ROWS);
        const runs = await admin.query<{ status: string }>(
          `SELECT status FROM sluice.runs WHERE pipeline = $1 ORDER BY started_at`,
          [name],
        );
        expect(runs.rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      });
    }
  }
});
