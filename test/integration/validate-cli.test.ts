import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';

const noStack = /\n\s+at .+:\d+:\d+/;
const occurrences = (text: string, part: string) => text.split(part).length - 1;

// Variables no test environment sets; given as '' they are unset for Sluice all the same.
const UNSET = { LINT_INBOX: '', LINT_PASSWORD: '', LINT_BATCH: '' };

describe('sluice validate', () => {
  let dir: string;
  const write = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
    return file;
  };
  beforeAll(async () => {
    dir = await tempDir();
  });

  const lintable = `name: lint
source:
  url: \${LINT_INBOX}
  glob: report_*.csv
  password: \${LINT_PASSWORD:-}
parse:
  type: csv
  batchSize: \${LINT_BATCH}
load:
  type: postgres
  table: t
`;

  it('checks a file without its secrets: unset variables are warnings, exit 0; --strict-env makes them errors', async () => {
    const file = await write('lint.yaml', lintable);
    const result = await runCli(['validate', file], UNSET);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${file}: ok (pipeline lint: files → csv → postgres)\n`);
    expect(result.stderr.split('\n')).toEqual([
      `sluice: warning: ${file}:3:8: source.url: environment variable LINT_INBOX is not set`,
      `sluice: warning: ${file}:8:14: parse.batchSize: environment variable LINT_BATCH is not set`,
      'sluice: 2 values come from unset variables and were not checked; --strict-env makes unset variables errors',
      '',
    ]);

    const strict = await runCli(['validate', '--strict-env', file], UNSET);
    expect(strict.code).toBe(2);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toContain(`sluice: ${file}: environment variables are not set (2 problems):\n`);
    expect(strict.stderr).toContain('  3:8 source.url: environment variable LINT_INBOX is not set\n');
    expect(strict.stderr).not.toMatch(noStack);

    // With the environment, the values are checked too.
    const set = await runCli(['validate', file], { LINT_INBOX: '/srv/in', LINT_BATCH: 'many' });
    expect(set.code).toBe(2);
    expect(set.stderr).toBe(
      `sluice: ${file}:8:14: parse.batchSize: expected number, received string (found "many")\n`,
    );
  });

  it('still refuses what is wrong whatever the environment, naming the file once', async () => {
    const file = await write(
      'typo.yaml',
      lintable.replace('  glob:', '  globb:').replace('table: t', 'table: t\n  mode: upsert'),
    );
    const result = await runCli(['validate', file], UNSET);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`sluice: ${file}: the pipeline is invalid (2 problems):\n`);
    expect(result.stderr).toContain('\n  4:3 source.globb: unknown key; did you mean glob?\n');
    expect(result.stderr).toMatch(/\n {2}12:9 load\.mode: .*\(found "upsert"\)\n/);
    expect(occurrences(result.stderr, file)).toBe(3); // the list, and the two warnings of the unset variables
    expect(result.stderr).not.toMatch(noStack);

    const one = await write('one.yaml', lintable.replace('  glob:', '  globb:'));
    const single = await runCli(['validate', one], { LINT_INBOX: '/in', LINT_BATCH: '10' });
    expect(single.code).toBe(2);
    expect(single.stderr).toBe(`sluice: ${one}:4:3: source.globb: unknown key; did you mean glob?\n`);
  });

  it('reports every problem of a file at once: the top level does not hide the stages', async () => {
    const file = await write(
      'many.yaml',
      `name: not a name!
unknown: 1
source:
  url: /srv/in
  onLoad: vanish
parse:
  type: csv
  delimiter: 5
check:
  columns:
    email: { emial: true }
load:
  type: postgres
`,
    );
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`sluice: ${file}: the pipeline is invalid (6 problems):`);
    expect(lines.slice(1).map((l) => /^ {2}(\d+:\d+ [^:]+):/.exec(l)?.[1])).toEqual([
      '1:7 name',
      '2:1 unknown',
      '5:11 source.onLoad',
      '8:14 parse.delimiter',
      '11:14 check.columns.email.emial',
      '13:3 load.table',
    ]);
  });

  it('answers every key spelt the old way at its line and column with the key to write now', async () => {
    const file = await write(
      'old-names.yaml',
      `name: old_names
source:
  url: imaps://etl@mail.example.com/INBOX
  tls: true
  timeoutMs: 45000
  auth:
    type: oauth2
    user: etl@example.com
    clientId: id
    clientSecret: \${LINT_PASSWORD:-s}
    refreshToken: \${LINT_PASSWORD:-r}
  rules: [{ name: reports, attachment: '\\.csv$' }]
parse:
  type: csv
load:
  type: postgres
  table: t
  strategy: evolve
run:
  refreshEvery: 3600
notify:
  email:
    host: smtp.example.com
    user: etl
    from: etl@example.com
    to: ops@example.com
`,
    );
    const result = await runCli(['validate', file], UNSET);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      `sluice: ${file}: the pipeline is invalid (6 problems):`,
      '  4:3 source.tls: renamed: write security: tls',
      '  5:3 source.timeoutMs: renamed: write timeout: 45s',
      '  8:5 source.auth.user: renamed: write username',
      // Never a key of the loader: the usual answer, which lists schema among the known keys.
      '  18:3 load.strategy: unknown key; expected one of: table, mode, createTable, columnNames, unstorableCharacters, keys, schema, setup, afterLoad, afterRun',
      '  20:17 run.refreshEvery: a duration with its unit, such as "30s", "15m", "6h" or "7d" (found 3600)',
      '  24:5 notify.email.user: renamed: write username',
    ]);
    expect(result.stderr).not.toMatch(noStack);

    const sync = await write(
      'old-sync.yaml',
      `name: old_sync
source:
  type: http
  url: https://api.example.com/v1/orders
  retries: 5
  retryBaseDelayMs: 250
  readTimeoutMs: 60000
parse:
  type: json
load:
  type: postgres
  table: orders
`,
    );
    const http = await runCli(['validate', sync]);
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('\n  5:3 source.retries: renamed: write retry: { attempts: 6 }\n');
    expect(http.stderr).toContain(
      '\n  6:3 source.retryBaseDelayMs: renamed: write retry: { baseDelay: 250ms }\n',
    );
    expect(http.stderr).toContain('\n  7:3 source.readTimeoutMs: renamed: write readTimeout: 1m\n');
  });

  it('refuses YAML the parser refuses, an alias bomb included, as a problem of the file (exit 2)', async () => {
    const bomb = await write(
      'bomb.yaml',
      [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
        'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
        'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
        'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
        'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
        'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
        'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
        'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
        '',
      ].join('\n'),
    );
    const twice = await write('twice.yaml', 'name: a\nname: b\n');
    const broken = await write('broken.yaml', 'name: [unclosed\nsource: {}\n');
    const result = await runCli(['validate', bomb, twice, broken]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('Unexpected error');
    expect(result.stderr).not.toMatch(noStack);
    expect(result.stderr).toContain(
      `sluice: ${bomb}:2:8: the YAML cannot be read: its aliases (*name) expand too much`,
    );
    expect(result.stderr).toContain(`sluice: ${twice}:2:1: the YAML cannot be read: Map keys must be unique`);
    expect(result.stderr).toMatch(new RegExp(`sluice: ${broken}:\\d+:\\d+: the YAML cannot be read: `));
  });

  it('takes folders, and lints every shipped example pipeline without its environment', async () => {
    const folder = path.join(dir, 'folder');
    await write('folder/a.yaml', lintable);
    await write(
      'folder/b.yml',
      lintable.replace('name: lint', 'name: other').replace('type: csv', 'type: tsv'),
    );
    const result = await runCli(['validate', folder], UNSET);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe(
      `${path.join(folder, 'a.yaml')}: ok (pipeline lint: files → csv → postgres)\n`,
    );
    expect(result.stderr).toMatch(/b\.yml:7:9: parse\.type: unknown parser "tsv"; expected one of: csv/);
    const missing = path.join(dir, 'missing.yaml');
    const absent = await runCli(['validate', missing]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toBe(`sluice: ${missing}: cannot be read: no such file\n`);

    const examples = await runCli(
      ['validate', 'examples/visits', 'examples/scan', 'examples/sync/pipelines'],
      { VISITS_SOURCE: '', PULSO_SOURCE_URL: '' },
    );
    expect(examples.code, examples.stderr).toBe(0);
    expect(examples.stdout.trimEnd().split('\n')).toEqual([
      'examples/visits/pipeline.yaml: ok (pipeline visits: files → csv → postgres)',
      'examples/scan/import.yaml: ok (pipeline scan_attendees: files → csv → postgres)',
      'examples/scan/scan.yaml: ok (pipeline scan_events: scan → postgres)',
      'examples/sync/pipelines/assignment_data.yaml: ok (pipeline pulso.assignment_data: sql → postgres)',
      'examples/sync/pipelines/dashboard_data.yaml: ok (pipeline pulso.dashboard_data: sql → postgres)',
      'examples/sync/pipelines/evolution_data.yaml: ok (pipeline pulso.evolution_data: sql → postgres)',
      'examples/sync/pipelines/operation_data.yaml: ok (pipeline pulso.operation_data: sql → postgres)',
      'examples/sync/pipelines/productivity_data.yaml: ok (pipeline pulso.productivity_data: sql → postgres)',
    ]);
    expect(examples.stderr).toContain('source.url: environment variable VISITS_SOURCE is not set');
    expect(examples.stderr).toContain('source.url: environment variable PULSO_SOURCE_URL is not set');
  });
});
