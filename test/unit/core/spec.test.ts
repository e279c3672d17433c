import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpolateEnv } from '../../../src/core/env.js';
import { describeError, SluiceError } from '../../../src/core/errors.js';
import { lintPipeline, parsePipeline, validatePipeline } from '../../../src/core/spec.js';
import { createRegistry } from '../../../src/plugins/index.js';

const registry = createRegistry();

function failure(text: string, env: Record<string, string> = {}): SluiceError {
  try {
    parsePipeline(text, { file: 'p.yaml', env, registry });
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected the pipeline to be refused');
}

/** What `sluice` prints for the refusal of `text` (after `sluice: `). */
const shown = (text: string, env: Record<string, string> = {}) => describeError(failure(text, env));

const minimal = `name: demo
source:
  url: /data/in
parse: { type: csv }
load:
  type: postgres
  table: t
`;

describe('interpolateEnv', () => {
  it('fills ${VAR} and ${VAR:-default}, and reports unset or empty variables without a default', () => {
    expect(interpolateEnv('a ${X} b ${Y:-dflt} c', { X: '1' })).toEqual({
      value: 'a 1 b dflt c',
      missing: [],
      references: ['X', 'Y'],
    });
    expect(interpolateEnv('${X}', { X: '' })).toMatchObject({ value: '', missing: ['X'] });
    expect(interpolateEnv('${X}/${Z}', {})).toMatchObject({ value: '/', missing: ['X', 'Z'] });
    expect(interpolateEnv('cost $${X}', { X: '1' })).toEqual({
      value: 'cost ${X}',
      missing: [],
      references: [],
    });
  });
});

describe('parsePipeline', () => {
  it('reads a minimal pipeline, taking the source type from the URL', () => {
    const spec = parsePipeline(minimal, { registry, env: {} });
    expect(spec.source.type).toBe('files');
    expect(spec.load).toMatchObject({ type: 'postgres', options: { table: 't', mode: 'append' } });
    expect(spec.transform).toEqual([]);
  });

  it('picks sftp for sftp:// URLs', () => {
    const spec = parsePipeline(minimal.replace('/data/in', 'sftp://etl@files.example.com:2222/in'), {
      registry,
      env: {},
    });
    expect(spec.source.type).toBe('sftp');
  });

  it('names the file once, with line, column and key path, what was found and what was expected', () => {
    const text = `name: demo
source: { url: /data/in }
parse:
  type: csv
  delimiter: 5
load:
  type: postgres
  table: t
  mode: upsert
`;
    const error = failure(text);
    expect(error.code).toBe('CONFIG_INVALID');
    const lines = describeError(error).split('\n');
    expect(lines[0]).toBe('p.yaml: the pipeline is invalid (2 problems):');
    expect(lines[1]).toBe('  5:14 parse.delimiter: expected string, received number (found 5)');
    expect(lines[2]).toMatch(/^ {2}9:9 load\.mode: .*"append".*"replace".*"merge".* \(found "upsert"\)$/);
    // One problem: one line, `file:line:col: key.path: …`.
    expect(shown(text.replace('  mode: upsert\n', ''))).toBe(
      'p.yaml:5:14: parse.delimiter: expected string, received number (found 5)',
    );
  });

  it('reports an unknown key at its own line and column with its full key path and a suggestion', () => {
    expect(shown(minimal.replace('url: /data/in', 'url: /data/in\n  globb: "*.csv"'))).toBe(
      'p.yaml:4:3: source.globb: unknown key; did you mean glob?',
    );
    expect(shown(minimal.replace('type: csv', 'type: csv, delimeter: ";"'))).toBe(
      'p.yaml:4:21: parse.delimeter: unknown key; did you mean delimiter?',
    );
    expect(shown(`${minimal}archve: { dir: /b }\n`)).toBe(
      'p.yaml:8:1: archve: unknown key; did you mean archive?',
    );
    // Nothing close: the keys there are.
    expect(shown(`${minimal}check:\n  columns:\n    a: { zzzz: true }\n`)).toMatch(
      /^p\.yaml:10:10: check\.columns\.a\.zzzz: unknown key; expected one of: required, trim, .*email/,
    );
  });

  it('refuses unknown plugins, listing the known ones', () => {
    expect(shown(minimal.replace('type: csv', 'type: tsv'))).toMatch(
      /^p\.yaml:4:16: parse\.type: unknown parser "tsv"; expected one of: csv, .*xlsx/,
    );
  });

  it('reports every problem of the file at once: an envelope error does not hide the stage errors', () => {
    const text = `name: not a name!
source:
  url: /data/in
  globb: x
parse: { type: csv, delimiter: 5 }
check:
  columns:
    email: { emial: true }
    n: { integer: { min: "zero" } }
load:
  type: postgres
`;
    const message = shown(text);
    expect(message.split('\n')).toEqual([
      'p.yaml: the pipeline is invalid (6 problems):',
      expect.stringMatching(/^ {2}1:7 name: a name of letters, digits.* \(found "not a name!"\)$/),
      '  4:3 source.globb: unknown key; did you mean glob?',
      '  5:32 parse.delimiter: expected string, received number (found 5)',
      '  8:14 check.columns.email.emial: unknown key; did you mean email?',
      '  9:26 check.columns.n.integer.min: expected number, received string (found "zero")',
      '  11:3 load.table: missing (expected string)',
    ]);
  });

  it('reports missing environment variables at their line, with every other problem', () => {
    const error = failure(minimal.replace('/data/in', '${INBOX}'));
    expect(error.code).toBe('ENV_MISSING');
    expect(describeError(error)).toBe(
      'p.yaml:3:8: source.url: environment variable INBOX is not set\n' +
        'Set the variables, or give a default in the file as ${NAME:-default}.',
    );
    const both = failure(
      minimal.replace('/data/in', '${INBOX}').replace('table: t', 'table: t\n  mode: upsert'),
    );
    expect(both.code).toBe('CONFIG_INVALID');
    expect(describeError(both)).toMatch(
      /3:8 source\.url: environment variable INBOX is not set\n {2}8:9 load\.mode/,
    );
  });

  it('leaves out a key whose lone ${VAR:-} comes out empty', () => {
    const spec = parsePipeline(`${minimal}archive: { dir: /b, name: "\${ZIP:-x.zip}" }\n`, {
      registry,
      env: {},
    });
    expect(spec.archive).toEqual({ dir: '/b', name: 'x.zip' });
    const sftp = parsePipeline(minimal.replace('url: /data/in', 'url: sftp://u@h/in\n  password: ${PW:-}'), {
      registry,
      env: {},
    });
    expect(sftp.source.options).not.toHaveProperty('password');
  });

  it('reads ${VAR} text as a number or boolean where the option wants one, and only there', () => {
    const text = minimal
      .replace('parse: { type: csv }', 'parse:\n  type: csv\n  batchSize: ${BATCH}')
      .replace('url: /data/in', 'url: sftp://u@h/in\n  password: ${PW}');
    const spec = parsePipeline(text, { registry, env: { BATCH: '250', PW: '1234' } });
    expect(spec.parse?.options).toMatchObject({ batchSize: 250 });
    expect(spec.source.options).toMatchObject({ password: '1234' });
    expect(shown(text, { BATCH: 'many', PW: 'x' })).toBe(
      'p.yaml:7:14: parse.batchSize: expected number, received string (found "many")',
    );
    // Text written in the file is not a number: only the environment gives numbers as text.
    expect(shown(minimal.replace('type: csv', 'type: csv, batchSize: "250"'))).toMatch(
      /^p\.yaml:4:\d+: parse\.batchSize: expected number, received string/,
    );
  });

  it('cannot be broken out of by a value: interpolation happens after YAML is read', () => {
    const spec = parsePipeline(minimal.replace('table: t', 'table: ${T}'), {
      registry,
      env: { T: 'x }\nevil: [' },
    });
    expect((spec.load.options as { table: string }).table).toBe('x }\nevil: [');
  });

  it('never echoes a secret, nor the password of a URL', () => {
    const message = shown(
      minimal.replace('url: /data/in', 'url: sftp://u@h/in\n  password: [s3cret]\n  port: ${PORT}'),
      { PORT: 'mysql://u:hunter2@h' },
    );
    expect(message).not.toContain('s3cret');
    expect(message).not.toContain('hunter2');
    expect(message).toContain('source.password');
  });

  it('reports YAML syntax errors and an alias bomb with the file and line, as CONFIG_INVALID', () => {
    expect(shown('name: [unclosed\n')).toMatch(/^p\.yaml:\d+:\d+: the YAML cannot be read: /);
    expect(shown('name: a\nname: b\n')).toMatch(
      /^p\.yaml:2:1: the YAML cannot be read: Map keys must be unique/,
    );
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
    ].join('\n');
    const error = failure(bomb);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(describeError(error)).toMatch(
      /^p\.yaml:2:8: the YAML cannot be read: its aliases \(\*name\) expand too much/,
    );
  });

  it('requires merge keys', () => {
    expect(shown(minimal.replace('table: t', 'table: t\n  mode: merge'))).toMatch(
      /load\.keys: merge needs keys/,
    );
  });

  it('treats an e-mail block with neither host nor to as not configured, and half of one as an error', () => {
    const notify = (email: string) =>
      `${minimal}notify:\n  webhook: { url: "http://127.0.0.1:9/hook" }\n  email:\n${email}`;
    const off = parsePipeline(notify('    host: ${H:-}\n    to: ${T:-}\n    from: a@b.c\n'), {
      registry,
      env: {},
    });
    expect(off.notify?.email).toBeUndefined();
    expect(off.notify?.webhook?.url).toBe('http://127.0.0.1:9/hook');
    const on = parsePipeline(notify('    host: ${H:-}\n    to: ${T:-}\n    from: a@b.c\n'), {
      registry,
      env: { H: 'smtp.example.com', T: 'ops@example.com' },
    });
    expect(on.notify?.email).toMatchObject({ host: 'smtp.example.com', to: ['ops@example.com'], port: 587 });
    expect(shown(notify('    host: smtp.example.com\n    from: a@b.c\n'))).toMatch(/notify\.email/);
    expect(shown(`${minimal}notify: { on: [failure] }\n`)).toMatch(/give email, webhook or both/);
  });

  it('reads relative paths from the folder of the file, and leaves URLs and paths relative to the source alone', () => {
    const text = `name: paths
source:
  url: inbox
  onLoad: move
  processedDir: done
parse: { type: csv }
load: { type: postgres, table: t }
archive: { dir: ../backup }
`;
    const spec = parsePipeline(text, { file: 'conf/pipelines/p.yaml', registry, env: {} });
    const folder = path.resolve('conf/pipelines');
    expect(spec.source.options).toMatchObject({ url: path.join(folder, 'inbox'), processedDir: 'done' });
    expect(spec.archive?.dir).toBe(path.resolve('conf/backup'));
    const url = parsePipeline(text.replace('url: inbox', 'url: file:///srv/in'), {
      file: 'p.yaml',
      registry,
      env: {},
    });
    expect(url.source.options).toMatchObject({ url: 'file:///srv/in' });
  });
});

describe('path options of the plugins', () => {
  const folder = path.resolve('conf');
  const read = (text: string) => parsePipeline(text, { file: 'conf/p.yaml', registry, env: {} });

  it('reads key files, download and report folders, and inbox rule folders from the file’s folder', () => {
    const sftp = read(`name: s
source: { url: "sftp://u@h/in", privateKeyPath: keys/id_ed25519, allowUnknownHostKey: true }
parse: { type: csv }
load: { type: postgres, table: t }
`);
    expect(sftp.source.options).toMatchObject({ privateKeyPath: path.join(folder, 'keys/id_ed25519') });
    const scan = read(`name: s
source:
  type: scan
  urlTemplate: "http://127.0.0.1:9/event/{id}"
  ids: { from: 1, to: 2 }
  downloadTo: inbox
  csv: { dir: /var/reports }
load: { type: postgres, table: t }
`);
    expect(scan.source.options).toMatchObject({
      downloadTo: path.join(folder, 'inbox'),
      csv: { dir: '/var/reports' },
    });
    const imap = read(`name: m
source:
  url: imap://u@h/INBOX
  password: x
  rules: [{ name: r, attachment: '\\.csv$', targetFolder: saved/mail }]
parse: { type: csv }
load: { type: postgres, table: t }
`);
    expect(imap.source.options).toMatchObject({ rules: [{ targetFolder: path.join(folder, 'saved/mail') }] });
  });
});

describe('validatePipeline', () => {
  const object = {
    name: 'built',
    source: { type: 'files', url: '/data/in', glob: 'a_*.csv' },
    parse: { type: 'csv', delimiter: ';' },
    load: { type: 'postgres', table: 'imports.a', mode: 'replace' },
  };

  it('gives the spec parsePipeline gives for the same pipeline written as YAML, defaults included', () => {
    const fromObject = validatePipeline(object, { registry });
    const fromText = parsePipeline(
      `name: built
source: { type: files, url: /data/in, glob: "a_*.csv" }
parse: { type: csv, delimiter: ";" }
load: { type: postgres, table: imports.a, mode: replace }
`,
      { registry, env: {} },
    );
    expect(fromObject).toEqual(fromText);
    expect(fromObject.source.options).toMatchObject({
      onLoad: 'keep',
      onReject: 'move',
      rejectedDir: 'rejected',
    });
  });

  it('takes ${ literally unless an environment is given', () => {
    const literal = validatePipeline({ ...object, load: { type: 'postgres', table: 'a${b}' } }, { registry });
    expect(literal.load.options).toMatchObject({ table: 'a${b}' });
    const filled = validatePipeline(
      { ...object, load: { type: 'postgres', table: '${T}' } },
      {
        registry,
        env: { T: 'x' },
      },
    );
    expect(filled.load.options).toMatchObject({ table: 'x' });
  });

  it('throws the same CONFIG_INVALID with key paths, every problem at once', () => {
    let error: unknown;
    try {
      validatePipeline(
        {
          ...object,
          parse: { type: 'csv', delimiter: 5 },
          load: { type: 'postgres', table: 't', mode: 'upsert' },
        },
        { registry, file: 'rule acme' },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('CONFIG_INVALID');
    expect(describeError(error).split('\n')).toEqual([
      'rule acme: the pipeline is invalid (2 problems):',
      '  parse.delimiter: expected string, received number (found 5)',
      expect.stringMatching(/^ {2}load\.mode: .*\(found "upsert"\)$/),
    ]);
  });
});

describe('lintPipeline', () => {
  const text = `name: lint
source:
  url: \${INBOX}
  glob: "*.csv"
  password: \${PW:-}
parse:
  type: csv
  batchSize: \${BATCH}
load: { type: postgres, table: t }
`;

  it('checks a file without its environment: unset variables are warnings and their values are not judged', () => {
    const lint = lintPipeline(text, { file: 'p.yaml', env: {}, registry });
    expect(lint.warnings).toEqual([
      'p.yaml:3:8: source.url: environment variable INBOX is not set',
      'p.yaml:8:14: parse.batchSize: environment variable BATCH is not set',
    ]);
    expect(lint).toMatchObject({ name: 'lint', stages: ['files', 'csv', 'postgres'] });
    expect(lint.spec).toBeUndefined();
  });

  it('still reports everything else, and makes the variables errors when asked', () => {
    const typo = lintPipeline(text.replace('glob:', 'globb:'), { file: 'p.yaml', env: {}, registry });
    expect(describeError(typo.error)).toBe('p.yaml:4:3: source.globb: unknown key; did you mean glob?');
    expect(typo.warnings).toHaveLength(2);
    const strict = lintPipeline(text, { file: 'p.yaml', env: {}, registry, strictEnv: true });
    expect(strict.error?.code).toBe('ENV_MISSING');
    expect(describeError(strict.error)).toMatch(/3:8 source\.url: environment variable INBOX is not set/);
    expect(strict.warnings).toEqual([]);
    const full = lintPipeline(text, { file: 'p.yaml', env: { INBOX: '/in', BATCH: '10' }, registry });
    expect(full.warnings).toEqual([]);
    expect(full.spec?.parse?.options).toMatchObject({ batchSize: 10 });
  });
});
