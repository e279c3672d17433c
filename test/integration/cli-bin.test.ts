import { spawn } from 'node:child_process';
import { chmod, chown, cp, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, pathWithNode, runBin } from '../helpers/bin.js';
import { freePort } from '../helpers/free-port.js';
import { startSluice, stopSluice } from '../helpers/service-process.js';
import { REPO, tempDir, VISITS_PIPELINE } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

// The command line a new user meets, through the built bin (dist/cli/main.js) as a user's shell runs it.

const noStack = /\n\s+at .+:\d+:\d+/;
const version = (JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { version: string })
  .version;

beforeAll(async () => {
  await ensureBuilt();
}, 300_000);

/**
 * The modules behind the files node loaded (one URL a line): the bin is a bundle (scripts/bundle-cli.mjs),
 * so each of its files stands for the sources its source map lists (`…/src/cli/runs-command.ts`,
 * `…/node_modules/zod/…`); other files stand for themselves.
 */
async function modulesIn(urls: string): Promise<string> {
  const modules: string[] = [];
  for (const url of urls.split('\n').filter(Boolean)) {
    if (!url.startsWith('file:')) continue;
    const file = new URL(url).pathname;
    const map = await readFile(`${file}.map`, 'utf8').catch(() => undefined);
    if (map === undefined || !file.startsWith(path.join(REPO, 'dist', 'cli'))) {
      modules.push(file);
      continue;
    }
    for (const source of (JSON.parse(map) as { sources: string[] }).sources)
      modules.push(path.resolve(path.dirname(file), source));
  }
  return modules.join('\n');
}

describe('installing the command', () => {
  it('runs from a link in ~/.local/bin, as the README installs it, for root and for a user', async () => {
    const home = await tempDir('sluice-user-home-');
    await chmod(home, 0o755);
    const bin = path.join(home, '.local', 'bin');
    await mkdir(bin, { recursive: true });
    await symlink(BIN, path.join(bin, 'sluice'));
    const env = { HOME: home, PATH: pathWithNode(bin) };

    const mine = await runBin(['--version'], { command: 'sluice', env });
    expect(mine).toMatchObject({ code: 0, stdout: `${version}\n` });

    // Another user (nobody, when the tests run as root): the checkout is only read, the data is its own.
    if (process.getuid?.() !== 0) return;
    const work = path.join(home, 'work');
    await mkdir(work);
    await chown(work, 65534, 65534);
    const asNobody = (args: string[]) =>
      runBin(['-u', 'nobody', '--', 'env', `HOME=${home}`, `PATH=${env.PATH}`, 'sluice', ...args], {
        command: 'runuser',
        cwd: work,
      });
    expect(await asNobody(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
    const demo = await asNobody(['demo']);
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toContain('files: 3 loaded, 0 skipped, 1 rejected');
    expect((await stat(path.join(work, '.sluice', 'pgdata'))).uid).toBe(65534);
  }, 300_000);

  it('loads only the modules of the command that runs', async () => {
    const dir = await tempDir();
    const log = path.join(dir, 'modules.log');
    await writeFile(
      path.join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');
  return resolved;
}
`,
    );
    await writeFile(
      path.join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
    );
    const loaded = async (args: string[], env: Record<string, string> = {}) => {
      await writeFile(log, '');
      const result = await runBin(['--import', path.join(dir, 'register.mjs'), BIN, ...args], {
        command: process.execPath,
        cwd: dir,
        env,
      });
      expect(result.code, result.stderr).toBe(0);
      return await modulesIn(await readFile(log, 'utf8'));
    };
    const heavy = (name: string) => new RegExp(`/node_modules/${name}/`);
    const help = await loaded(['--help']);
    expect(help).toContain('/commander/');
    for (const name of ['pg', '@electric-sql/pglite', 'exceljs', '@e965/xlsx', 'zod', 'yaml', 'imapflow'])
      expect(help, name).not.toMatch(heavy(name));
    expect(help).not.toMatch(/src\/cli\/run-command\.ts/);

    const db = await createTestDatabase();
    try {
      const runs = await loaded(['runs'], { DATABASE_URL: db.url });
      expect(runs).toMatch(heavy('pg'));
      expect(runs).toMatch(/src\/cli\/runs-command\.ts/);
      expect(runs).not.toMatch(/src\/cli\/run-command\.ts/);
      for (const name of ['@electric-sql/pglite', 'exceljs', '@e965/xlsx', 'zod', 'imapflow', 'mysql2'])
        expect(runs, name).not.toMatch(heavy(name));
    } finally {
      await db.drop();
    }
  }, 120_000);
});

describe('exit codes', () => {
  const cases: [string[], number, RegExp][] = [
    [['--help'], 0, /Usage: sluice/],
    [['--version'], 0, new RegExp(version.replaceAll('.', '\\.'))],
    [['help', 'runs'], 0, /Usage: sluice runs/],
    [['runs', '--help'], 0, /--limit <n>/],
    [[], 2, /Usage: sluice/],
    [['nope'], 2, /unknown command 'nope'/],
    [['rn'], 2, /Did you mean run\?/],
    [['run'], 2, /missing required argument 'pipelines'/],
    [['runs', '--bogus'], 2, /unknown option '--bogus'/],
    [['rejects', '--run'], 2, /option '--run <id>' argument missing/],
    [['runs', '--limit', 'abc'], 2, /--limit .*expected a whole number of at least 1, found "abc"/],
    [['runs', '--limit', '0'], 2, /expected a whole number of at least 1, found "0"/],
    [['datasets', '--limit', '-3'], 2, /expected a whole number/],
    [
      ['watch', '--stability', 'soon'],
      2,
      /--stability .*expected a duration with its unit, such as 500ms, 2s or 30m, found "soon"/,
    ],
    [['watch', '--stability', '2000'], 2, /--stability .*expected a duration with its unit/],
    [
      ['cleanup', '--max-run-time', '0s'],
      2,
      /--max-run-time .*expected a duration longer than 0, found "0s"/,
    ],
    [['state'], 2, /Usage: sluice state/],
  ];
  it.each(cases)('sluice %j exits %i', async (args, code, shown) => {
    const dir = await tempDir();
    const result = await runBin(args, { cwd: dir });
    expect(result.code, result.stderr).toBe(code);
    expect(result.stdout + result.stderr).toMatch(shown);
    expect(result.stderr).not.toMatch(noStack);
  });
});

describe('outside a project', () => {
  it.each(
    (
      [
        ['runs'],
        ['rejects'],
        ['runs', '3f2a'],
        ['state', 'show'],
        ['datasets'],
        ['rules', 'list'],
        ['sql', 'SELECT 1'],
        ['cleanup'],
        ['report', 'due', '--send'],
        ['report', 'list'],
        ['inbox', 'status'],
        ['inbox', 'poll'],
        ['schedule', 'list'],
        ['schedule', 'remove', 'nightly'],
      ] as string[][]
    ).map((args) => [args.join(' '), args] as const),
  )('sluice %s says there is no database here and creates none', async (_, args) => {
    const dir = await tempDir();
    const result = await runBin(args, { cwd: dir, env: { DATABASE_URL: '', SLUICE_HOME: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`no Sluice database in ${path.join(dir, '.sluice')}`);
    expect(result.stderr).toMatch(/SLUICE_HOME/);
    expect(result.stderr).toMatch(/DATABASE_URL/);
    expect(result.stderr).toMatch(/sluice run PIPELINE/);
    expect(result.stderr).not.toMatch(noStack);
    await expect(stat(path.join(dir, '.sluice'))).rejects.toThrow(/ENOENT/);
  });

  it('names the folder SLUICE_HOME points at', async () => {
    const dir = await tempDir();
    const home = path.join(dir, 'elsewhere');
    const result = await runBin(['runs'], { cwd: dir, env: { DATABASE_URL: '', SLUICE_HOME: home } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`no Sluice database in ${home}`);
    await expect(stat(home)).rejects.toThrow(/ENOENT/);
  });
});

describe('on a PostgreSQL server', () => {
  let testDb: TestDatabase;
  let dir: string;
  let env: Record<string, string>;
  const LONG = 'a.pipeline.with.a.rather.long.name';
  beforeAll(async () => {
    testDb = await createTestDatabase();
    dir = await tempDir();
    env = { DATABASE_URL: testDb.url, SLUICE_HOME: path.join(dir, 'home') };
    // Runs whose ids share their first digits, a long name, large counts and known durations.
    const insert = await runBin(
      [
        'sql',
        `INSERT INTO sluice.runs (id, pipeline, status, as_of, started_at, ended_at, rows_loaded, rows_rejected, files_loaded, files_rejected)
         VALUES ('abcd0000-0000-4000-8000-000000000001', 'visits', 'succeeded', '2026-11-27',
                 '2026-11-27 06:00:00+00', '2026-11-27 06:02:05+00', 1234567, 3, 2, 1),
                ('abcd1111-0000-4000-8000-000000000002', '${LONG}', 'failed', '2026-11-28',
                 '2026-11-28 06:00:00+00', '2026-11-28 06:00:00.5+00', 0, 0, 0, 0)`,
      ],
      { env },
    );
    expect(insert.code, insert.stderr).toBe(0);
    expect(insert.stdout).toBe('INSERT 2\n');
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('serves the API, the dashboard and the metrics, runs a queued pipeline and stops on SIGTERM', async () => {
    // The service's packages (fastify, graphile-worker, prom-client) stay outside the bin's bundle: this is
    // the command that loads them through it.
    const inbox = path.join(dir, 'serve-inbox');
    await mkdir(inbox, { recursive: true });
    await writeFile(path.join(inbox, 'a.csv'), 'id,name\n1,one\n2,two\n');
    await writeFile(
      path.join(dir, 'bin-serve.yaml'),
      `name: bin-serve\nsource: { url: ${JSON.stringify(inbox)}, glob: '*.csv', stableFor: 0s }\n` +
        'parse: { type: csv }\nload: { type: postgres, table: bin_serve }\n',
    );
    await writeFile(path.join(dir, 'service.yaml'), 'pipelines:\n  - bin-serve.yaml\n');
    const port = await freePort();
    const token = 'bin-serve-token';
    // A database of its own: the other tests here count the runs of theirs.
    const own = await createTestDatabase();
    const serveEnv = { DATABASE_URL: own.url, SLUICE_HOME: path.join(dir, 'serve-home') };
    const child = spawn(BIN, ['serve', path.join(dir, 'service.yaml'), '--port', String(port)], {
      env: { ...process.env, ...serveEnv, SLUICE_API_TOKEN: token, PATH: pathWithNode() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const api = (route: string, init: RequestInit = {}) =>
      fetch(`http://127.0.0.1:${port}${route}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
    try {
      // Until it listens (or exits, which fails the test with its output).
      for (;;) {
        const up = await api('/api/pipelines').then(
          (r) => r.ok,
          () => false,
        );
        if (up) break;
        expect(child.exitCode, output).toBeNull();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(JSON.stringify(await (await api('/api/pipelines')).json())).toContain('bin-serve');
      const page = await api('/');
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      expect(await (await api('/metrics')).text()).toMatch(/^sluice_/m);
      const queued = await api('/api/pipelines/bin-serve/run', { method: 'POST', body: '{}' });
      expect(queued.status, await queued.clone().text()).toBeLessThan(300);
      for (;;) {
        const { runs } = (await (await api('/api/runs?pipeline=bin-serve&limit=1')).json()) as {
          runs: { status: string; rowsLoaded: number }[];
        };
        if (runs[0] && runs[0].status !== 'running') {
          expect(runs[0], `${JSON.stringify(runs[0])}\n${output}`).toMatchObject({
            status: 'succeeded',
            rowsLoaded: 2,
          });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
      await own.drop();
    }
    expect(await exited, output).toBe(0);
    expect(output).not.toMatch(noStack);
  }, 120_000);

  it('lists runs under a header, aligned, with durations and thousands separators', async () => {
    const result = await runBin(['runs'], { env });
    expect(result.code, result.stderr).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^RUN\s+STARTED\s+PIPELINE\s+STATUS\s+AS OF\s+TOOK\s+ROWS LOADED\s+REJECTED\s+FILES$/,
    );
    expect(rows).toHaveLength(2);
    const status = header!.indexOf('STATUS');
    const took = header!.indexOf('TOOK');
    for (const row of rows) expect(row.slice(status - 2, status)).toBe('  '); // columns line up
    expect(rows[0]!.slice(status)).toMatch(/^failed /);
    expect(rows[1]!.slice(status)).toMatch(/^succeeded /);
    expect(rows[0]).toMatch(new RegExp(`^abcd1111  \\S+ \\S+  ${LONG.replaceAll('.', '\\.')}  failed`));
    expect(rows[1]).toMatch(/ 2 min 05 s +1,234,567 +3 +2 files loaded \(1 rejected\)$/);
    expect(rows[0]).toMatch(/500 ms/);
    expect(rows[0]!.length >= took).toBe(true);
  });

  it('takes any unique start of a run id, and says so when there is none or several', async () => {
    const one = await runBin(['runs', 'abcd0'], { env });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^Run abcd0000-0000-4000-8000-000000000001 of visits: succeeded/);
    expect(one.stdout).toContain('rows     0 read, 1,234,567 loaded, 3 rejected');

    const rejects = await runBin(['rejects', '--run', 'ABCD1'], { env });
    expect(rejects.code, rejects.stderr).toBe(0);
    expect(rejects.stdout).toBe('No rejected rows in run abcd1111-0000-4000-8000-000000000002.\n');

    const both = await runBin(['rejects', '--run', 'abcd'], { env });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('abcd is the start of more than one run id; give more of it');
    expect(both.stderr).toContain('abcd0000-0000-4000-8000-000000000001  visits');
    expect(both.stderr).toContain(`abcd1111-0000-4000-8000-000000000002  ${LONG}`);

    const none = await runBin(['runs', 'ffff'], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no run id starts with ffff\n`sluice runs` lists/);

    for (const args of [
      ['rejects', '--run', "3f2a' OR 1=1"],
      ['runs', 'latest'],
    ]) {
      const wrong = await runBin(args, { env });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/is not a run id \(or the start of one\)/);
      expect(wrong.stderr).not.toMatch(/uuid|SQLSTATE/);
    }
  });

  it('says when a pipeline is not in the ledger, naming those that are', async () => {
    for (const args of [
      ['runs', '--pipeline', 'nope'],
      ['rejects', '--pipeline', 'nope'],
    ]) {
      const result = await runBin(args, { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('no pipeline named "nope" has run here');
      expect(result.stderr).toContain(`Pipelines in the run ledger: ${LONG}, visits.`);
    }
  });

  it('runs SQL: a table, JSON, CSV, statements from stdin, and an error as one line', async () => {
    const table = await runBin(
      ['sql', "SELECT pipeline, rows_loaded FROM sluice.runs ORDER BY pipeline; SELECT 'x' AS y WHERE false"],
      { env },
    );
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toBe(
      [
        `${'pipeline'.padEnd(LONG.length)}  rows_loaded`,
        `${LONG}  ${'0'.padStart(11)}`,
        `${'visits'.padEnd(LONG.length)}  ${'1234567'.padStart(11)}`,
        '(2 rows)',
        '',
        'y',
        '(0 rows)',
        '',
      ].join('\n'),
    );

    const json = await runBin(
      [
        'sql',
        '--json',
        "SELECT 1 AS n, 't'::bool AS ok, NULL AS none, '{\"a\":[1]}'::jsonb AS doc, 1.50 AS price",
      ],
      { env },
    );
    expect(JSON.parse(json.stdout)).toEqual([{ n: 1, ok: true, none: null, doc: { a: [1] }, price: '1.50' }]);

    const csv = await runBin(['sql', '--csv', `SELECT 'a,b' AS x, 'say "hi"' AS y, NULL AS z`], { env });
    expect(csv.stdout).toBe('x,y,z\r\n"a,b","say ""hi""",\r\n');

    const piped = await runBin(['sql'], {
      env,
      input:
        "CREATE TABLE notes (t text);\nINSERT INTO notes VALUES ('a;b'), ($$c;d$$);\n-- a comment; still a comment\nSELECT count(*) AS n FROM notes",
    });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe('CREATE\n\nINSERT 2\n\nn\n2\n(1 row)\n');

    const error = await runBin(['sql'], { env, input: 'SELECT 1;\nSELECT x\n  FROM nowhere;\n' });
    expect(error.code).toBe(1);
    expect(error.stderr).toBe(
      'sluice: ERROR at line 3, column 8: relation "nowhere" does not exist [SQLSTATE 42P01]\n',
    );
    const syntax = await runBin(['sql', 'SELEC 1'], { env });
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toBe(
      'sluice: ERROR at line 1, column 1: syntax error at or near "SELEC" [SQLSTATE 42601]\n',
    );
  });

  it('shows the warnings of a run in its summary off a terminal, and in --json', async () => {
    const inbox = path.join(dir, 'latin1');
    await mkdir(inbox);
    await writeFile(path.join(inbox, 'one.csv'), Buffer.from('name\ncaf\xe9\n', 'latin1'));
    const file = path.join(dir, 'latin1.yaml');
    await writeFile(
      file,
      `name: latin1\nsource: { url: ${inbox} }\nparse: { type: csv }\nload: { type: postgres, table: latin1 }\n`,
    );
    const text = await runBin(['run', file, '--dry-run'], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/loaded {3}one\.csv: 1 row\n/);
    expect(text.stdout).toMatch(/ {2}warning: .*one\.csv(:\d+)? has bytes that are not valid UTF-8/);
    const json = await runBin(['run', file, '--dry-run', '--json'], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({
      warnings: [expect.stringMatching(/not valid UTF-8/)],
    });
  });

  it('sluice watch logs the rejected rows of each file it imports', async () => {
    const inbox = path.join(dir, 'watched');
    await mkdir(inbox);
    await writeFile(path.join(inbox, 'orders_1.csv'), 'id,total\n1,9.5\n2\n3,1,extra\n');
    const rules = path.join(dir, 'rules.yaml');
    await writeFile(
      rules,
      `rules:
  - name: orders
    filePattern: '^orders_\\d+\\.csv$'
    fileType: csv
    sourceFolder: ${inbox}
    archiveFolder: ${inbox}/archive
    targetTable: orders
`,
    );
    expect((await runBin(['rules', 'add', rules], { env })).stdout).toBe('saved 1 rule: orders\n');
    const result = await runBin(['watch', '--once', '--stability', '50ms'], { env });
    expect(result.stdout).toBe('1 file: 1 loaded\n');
    expect(result.stderr).toMatch(
      /warn: orders_1\.csv: 2 rows rejected \(the whole list: sluice rejects --run [0-9a-f-]{36}\)/,
    );
    expect(result.stderr).toMatch(/warn: {3}orders_1\.csv:3 fieldCount expected 2 fields, found 1/);
    expect(result.stderr).toMatch(/warn: {3}orders_1\.csv:4 fieldCount expected 2 fields, found 3/);

    // The run's warnings too: here a file separated by ";" read with the rule's ",".
    await writeFile(path.join(inbox, 'orders_2.csv'), 'id;total\n1;9,5\n');
    const semicolons = await runBin(['watch', '--once', '--stability', '50ms'], { env });
    expect(semicolons.stderr).toContain(
      'warn: orders_2.csv:1: the header is one column, "id;total": the file looks separated by ";", not ","',
    );
  });

  it('lists the options nested in plugin options: auth, pagination, check rules', async () => {
    const text = await runBin(['plugins'], { env });
    expect(text.code).toBe(0);
    const http = text.stdout.slice(text.stdout.indexOf('  http — '));
    expect(http).toMatch(
      /\n {6}auth: object — [^\n]*\n {10}with type: "bearer":\n {14}token: string \(required\)/,
    );
    expect(http).toMatch(/\n {10}with type: "offset":\n(?: {14}.*\n)*? {14}limit: integer \(required\)/);
    expect(text.stdout).toMatch(/\n {6}regex: string \| object — [^\n]*\n {10}pattern: string \(required\)/);
    // Durations are a type of their own, with units in their defaults; the retry group is nested.
    expect(http).toMatch(/\n {6}readTimeout: duration \(default "30s"\) — /);
    expect(http).toMatch(
      /\n {6}retry: object \(default \{\}\) — [^\n]*\n {10}attempts: integer \(default 4\)/,
    );

    const json = JSON.parse((await runBin(['plugins', '--json'], { env })).stdout) as {
      name: string;
      options: { name: string; variants?: { name: string; options: { name: string }[] }[] }[];
    }[];
    const auth = json.find((p) => p.name === 'http')!.options.find((o) => o.name === 'auth')!;
    expect(auth.variants!.map((v) => v.name)).toEqual(['type: "bearer"', 'type: "basic"', 'type: "apiKey"']);
    expect(auth.variants![1]!.options.map((o) => o.name)).toEqual(['username', 'password']);
  });
});

describe('on the embedded database', () => {
  it('works through `sluice serve` while it holds the database, and refuses a second service', async () => {
    const dir = await tempDir();
    const env = { DATABASE_URL: '', SLUICE_HOME: path.join(dir, '.sluice') };
    const inbox = path.join(dir, 'inbox');
    await mkdir(inbox);
    await writeFile(path.join(inbox, 'a.csv'), 'id,name\n1,one\n2,two\n');
    await writeFile(
      path.join(dir, 'shared.yaml'),
      `name: shared\nsource: { url: ${JSON.stringify(inbox)}, glob: '*.csv', stableFor: 0s }\n` +
        'parse: { type: csv }\nload: { type: postgres, table: shared }\n',
    );
    await writeFile(path.join(dir, 'service.yaml'), 'pipelines:\n  - shared.yaml\n');
    const port = await freePort();
    const service = startSluice(
      ['serve', 'service.yaml', '--port', String(port), '--no-scheduler'],
      { ...env, SLUICE_API_TOKEN: 'shared-token' },
      dir,
    );
    try {
      await service.waitFor(/sluice serve started/);
      // From another folder, output piped, as a second terminal would.
      const elsewhere = await tempDir();
      const run = await runBin(['run', path.join(dir, 'shared.yaml')], { env, cwd: elsewhere });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('rows:  2 read, 2 loaded, 0 rejected');
      const runs = await runBin(['runs'], { env, cwd: elsewhere });
      expect(runs.code, runs.stderr).toBe(0);
      expect(runs.stdout).toMatch(/shared\s+succeeded/);
      const reply = await fetch(`http://127.0.0.1:${port}/api/runs?pipeline=shared`, {
        headers: { authorization: 'Bearer shared-token' },
      });
      const api = (await reply.json()) as {
        runs: { status: string; rowsLoaded: number }[];
      };
      expect(api.runs).toMatchObject([{ status: 'succeeded', rowsLoaded: 2 }]);
      const sql = await runBin(['sql', 'SELECT name FROM shared ORDER BY id'], { env, cwd: elsewhere });
      expect(sql).toMatchObject({ code: 0, stdout: 'name\none\ntwo\n(2 rows)\n' });
      const wrong = await runBin(['sql', 'SELECT * FROM nowhere'], { env, cwd: elsewhere });
      expect(wrong).toMatchObject({
        code: 1,
        stderr: 'sluice: ERROR at line 1, column 15: relation "nowhere" does not exist [SQLSTATE 42P01]\n',
      });
      // A transaction left open would take in the service's own statements: rolled back and refused.
      const open = await runBin(['sql', "BEGIN; DELETE FROM shared WHERE name = 'one'"], {
        env,
        cwd: elsewhere,
      });
      expect(open.code).toBe(1);
      expect(open.stderr).toContain('a transaction left open was rolled back');
      const kept = await runBin(['sql', 'SELECT count(*) AS n FROM shared'], { env, cwd: elsewhere });
      expect(kept.stdout).toBe('n\n2\n(1 row)\n');

      const second = await runBin(['serve', 'service.yaml', '--port', String(await freePort())], {
        env,
        cwd: dir,
      });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/is in use by process \d+ \(sluice serve\)/);
      expect(second.stderr).toContain('stop it first');
      expect(second.stderr).not.toMatch(noStack);
    } finally {
      expect(await stopSluice(service), service.output()).toBe(0);
    }
    const after = await runBin(['runs'], { env, cwd: dir });
    expect(after.code, after.stderr).toBe(0);
  }, 120_000);

  it('runs SQL on it, the way the README shows', async () => {
    const dir = await tempDir();
    const env = { DATABASE_URL: '', SLUICE_HOME: path.join(dir, '.sluice') };
    const inbox = path.join(dir, 'inbox');
    await cp(path.join(REPO, 'examples/visits/data'), inbox, { recursive: true });
    const run = await runBin(['run', VISITS_PIPELINE, '--as-of', '2026-11-27'], {
      env: { ...env, VISITS_SOURCE: inbox, VISITS_BACKUP_DIR: path.join(dir, 'backup') },
      cwd: dir,
    });
    expect(run.code, run.stderr).toBe(0);
    const result = await runBin(['sql', 'SELECT count(*) AS runs FROM sluice.runs'], { env, cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('runs\n   1\n(1 row)\n');
    const error = await runBin(['sql', 'SELECT * FROM nowhere'], { env, cwd: dir });
    expect(error).toMatchObject({
      code: 1,
      stderr: 'sluice: ERROR at line 1, column 15: relation "nowhere" does not exist [SQLSTATE 42P01]\n',
    });
  }, 120_000);
});
