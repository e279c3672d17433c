import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSluiceError } from '../../src/core/errors.js';
import { parseTask, type TaskSpec } from '../../src/core/task-spec.js';
import { runTask } from '../../src/runner/tasks/run-task.js';
import { taskAction } from '../../src/runner/tasks/task-action.js';
import { runCli } from '../helpers/cli.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// Command tasks end to end on a real PostgreSQL: each run is in the run ledger with its exit code, and the
// tail of its output is in the step log; a failure notifies; the time limit stops the command with every
// process it started; two runs of one task never overlap.

let store: TestStore;
let dir: string;
let hook: TestHttpServer;
beforeAll(async () => {
  store = await createTestStore({ prefix: 'sluice-ops-command-' });
  dir = await tempDir('sluice-ops-tasks-');
  hook = await startHttpServer((_req, res) => {
    res.end('ok');
  });
});
afterAll(async () => {
  await hook?.close();
  await store?.close();
});

async function taskFile(name: string, yaml: string): Promise<TaskSpec> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  return parseTask(yaml, { file, env: process.env });
}

function run(task: TaskSpec) {
  return runTask({ db: store.db, task, action: taskAction(task), home: store.home });
}

async function logOf(runId: string): Promise<string> {
  const { rows } = await store.db.query<{ message: string }>(
    'SELECT message FROM sluice.logs WHERE run_id = $1 ORDER BY id',
    [runId],
  );
  return rows.map((r) => r.message).join('\n');
}

async function runRow(runId: string) {
  const { rows } = await store.db.query<{ status: string; kind: string; error_code: string | null }>(
    'SELECT status, kind, error_code FROM sluice.runs WHERE id = $1',
    [runId],
  );
  return rows[0];
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('command tasks', () => {
  it('records a command that succeeds: exit code, output tail, arguments passed as data', async () => {
    const task = await taskFile(
      'hello',
      `name: hello
type: command
options:
  program: /bin/sh
  args: [-c, 'for i in $(seq 1 2000); do echo "line $i"; done; echo "arg: $0"', '$HOME; rm -rf /']
  env: { GREETING: hi }
`,
    );
    const summary = await run(task);
    expect(summary.status).toBe('succeeded');
    expect(await runRow(summary.runId)).toEqual({ status: 'succeeded', kind: 'command', error_code: null });
    const log = await logOf(summary.runId);
    expect(log).toContain('exit code 0');
    // The tail, not the whole output: the last lines are there, the first are not.
    expect(log).toContain('line 2000');
    expect(log).not.toContain('line 1\n');
    // The second argument reached the program as it was written, never through a shell.
    expect(log).toContain('arg: $HOME; rm -rf /');
  });

  it('fails on a non-zero exit, with the stderr tail in the log and a notice', async () => {
    const task = await taskFile(
      'broken',
      `name: broken
type: command
options:
  program: ./broken.sh
notify:
  webhook: { url: '${hook.origin}/hook' }
`,
    );
    await writeFile(
      path.join(dir, 'broken.sh'),
      '#!/bin/sh\necho "working on it"\necho "disk full" >&2\nexit 3\n',
      {
        mode: 0o755,
      },
    );
    const summary = await run(task);
    expect(summary.status).toBe('failed');
    expect(summary.error?.code).toBe('TASK_FAILED');
    expect(summary.error?.message).toContain('exit code 3');
    expect(await runRow(summary.runId)).toEqual({
      status: 'failed',
      kind: 'command',
      error_code: 'TASK_FAILED',
    });
    const log = await logOf(summary.runId);
    expect(log).toContain('working on it');
    expect(log).toContain('disk full');
    const notice = hook.requests.find((r) => r.url === '/hook');
    expect(notice?.body).toContain('broken failed');
  });

  it('stops a command past its time limit with every process it started', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const task = await taskFile(
      'slow',
      `name: slow
type: command
options:
  program: "sleep 600 & echo $! > '${pidFile}'; echo started; sleep 600"
  shell: true
  timeout: 2s
  killAfter: 2s
`,
    );
    const summary = await run(task);
    expect(summary.status).toBe('failed');
    expect(summary.error?.message).toContain('time limit (2s)');
    expect(await logOf(summary.runId)).toContain('started');
    const child = Number(await readFile(pidFile, 'utf8'));
    expect(child).toBeGreaterThan(0);
    await until(() => isGone(child), `the background child ${child} to end`);
  });

  it('never runs one task twice at once; sluice task run finds a task by name', async () => {
    const gate = path.join(dir, 'gate');
    const started = path.join(dir, 'waiting');
    const task = await taskFile(
      'gated',
      `name: gated
type: command
options:
  program: /bin/sh
  args: [-c, 'touch "$1"; while [ ! -e "$2" ]; do sleep 0.05; done', sh, '${started}', '${gate}']
`,
    );
    const first = run(task);
    await until(
      () =>
        access(started).then(
          () => true,
          () => false,
        ),
      'the first run to start',
    );
    const second = await run(task).catch((error: unknown) => error);
    expect(isSluiceError(second, 'PIPELINE_RUNNING')).toBe(true);
    await writeFile(gate, '');
    expect((await first).status).toBe('succeeded');

    const cli = await runCli(['task', 'run', 'hello', '--dir', dir, '--json'], store.env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const summary = JSON.parse(cli.stdout) as { status: string; type: string };
    expect(summary).toMatchObject({ status: 'succeeded', type: 'command' });
    const missing = await runCli(['task', 'run', 'nosuch', '--dir', dir], store.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no task named "nosuch"');
  });
});

describe('operations job kinds', () => {
  it('a command job runs once per request; the default maintenance schedule is saved and valid', async () => {
    const { checkJob, jobKind } = await import('../../src/scheduler/job-kinds.js');
    const { createCatalog } = await import('../../src/scheduler/catalog.js');
    const { ensureDefaultSchedules } = await import('../../src/scheduler/ops-kinds.js');
    const { createRegistry } = await import('../../src/plugins/index.js');
    const catalog = createCatalog([]);
    const checked = checkJob(catalog, {
      kind: 'command',
      target: 'scheduled-echo',
      options: { program: 'echo', args: ['from a schedule'], timeout: '1m' },
    });
    expect(checked.problems).toEqual([]);
    const silent = { debug() {}, info() {}, warn() {}, error() {} };
    const context = {
      db: store.db,
      home: store.home,
      registry: createRegistry(),
      catalog,
      logger: silent,
      requestId: 'tick-1',
    };
    const kind = jobKind('command')!;
    const first = await kind.run(context, 'scheduled-echo', checked.options, new AbortController().signal);
    const again = await kind.run(context, 'scheduled-echo', checked.options, new AbortController().signal);
    expect(first.status).toBe('succeeded');
    expect(again.runIds).toEqual(first.runIds);
    const { rows } = await store.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sluice.runs WHERE pipeline = 'scheduled-echo'`,
    );
    expect(rows[0]!.n).toBe(1);
    expect(
      checkJob(catalog, { kind: 'command', target: 'x', options: { args: [] } }).problems[0]?.field,
    ).toBe('options.program');

    expect(await ensureDefaultSchedules(store.db)).toEqual(['maintenance']);
    expect(await ensureDefaultSchedules(store.db)).toEqual([]);
    const { rows: schedules } = await store.db.query<{
      kind: string;
      target: string | null;
      options: unknown;
    }>(`SELECT kind, target, options FROM sluice.schedules WHERE name = 'maintenance'`);
    expect(checkJob(catalog, schedules[0]!).problems).toEqual([]);
  });
});
