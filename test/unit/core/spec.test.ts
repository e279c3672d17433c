import { describe, expect, it } from 'vitest';
import { interpolateEnv } from '../../../src/core/env.js';
import { SluiceError } from '../../../src/core/errors.js';
import { parsePipeline, pipelineJsonSchema } from '../../../src/core/spec.js';
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
    });
    expect(interpolateEnv('${X}', { X: '' })).toEqual({ value: '', missing: ['X'] });
    expect(interpolateEnv('${X}/${Z}', {})).toEqual({ value: '/', missing: ['X', 'Z'] });
    expect(interpolateEnv('cost $${X}', { X: '1' })).toEqual({ value: 'cost ${X}', missing: [] });
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

  it('names file, line, column and key path, what was found and what was expected', () => {
    const error = failure(`name: demo
source: { url: /data/in }
parse:
  type: csv
  delimiter: 5
load:
  type: postgres
  table: t
  mode: upsert
`);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/p\.yaml:5:14 parse\.delimiter: .*string.* \(found 5\)/);
    expect(error.message).toMatch(
      /p\.yaml:9:9 load\.mode: .*"append".*"replace".*"merge".* \(found "upsert"\)/,
    );
  });

  it('refuses unknown keys and unknown plugins, listing the known ones', () => {
    expect(failure(minimal.replace('type: csv', 'type: csv, delimeter: ";"')).message).toMatch(
      /p\.yaml:4:\d+ parse: .*delimeter/,
    );
    expect(failure(minimal.replace('type: csv', 'type: tsv')).message).toMatch(
      /parse\.type: unknown parser; expected one of: csv/,
    );
  });

  it('checks the check section against the registered rules', () => {
    const error = failure(`${minimal}check:
  columns:
    email: { emial: true }
    n: { integer: { min: "zero" } }
`);
    expect(error.message).toMatch(/p\.yaml:10:\d+ check\.columns\.email: .*emial/);
    expect(error.message).toMatch(/check\.columns\.n\.integer\.min/);
  });

  it('reports a missing environment variable at its line', () => {
    const error = failure(minimal.replace('/data/in', '${INBOX}'));
    expect(error.code).toBe('ENV_MISSING');
    expect(error.message).toBe('p.yaml:3:8: environment variable INBOX is not set');
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
    expect(failure(text, { BATCH: 'many', PW: 'x' }).message).toMatch(
      /p\.yaml:\d+:\d+ parse\.batchSize: .*expected number.* \(found "many"\)/,
    );
  });

  it('cannot be broken out of by a value: interpolation happens after YAML is read', () => {
    const spec = parsePipeline(minimal.replace('table: t', 'table: ${T}'), {
      registry,
      env: { T: 'x }\nevil: [' },
    });
    expect((spec.load.options as { table: string }).table).toBe('x }\nevil: [');
  });

  it('reports YAML syntax errors with their line', () => {
    expect(failure('name: [unclosed\n').message).toMatch(/p\.yaml:\d+:\d+/);
  });

  it('requires merge keys', () => {
    expect(failure(minimal.replace('table: t', 'table: t\n  mode: merge')).message).toMatch(
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
    expect(failure(notify('    host: smtp.example.com\n    from: a@b.c\n')).message).toMatch(/notify\.email/);
    expect(failure(`${minimal}notify: { on: [failure] }\n`).message).toMatch(/give email, webhook or both/);
  });

  it('gives a JSON Schema that names every plugin', () => {
    const schema = JSON.stringify(pipelineJsonSchema(registry));
    for (const name of ['files', 'sftp', 'csv', 'postgres', 'addColumns', 'datetime'])
      expect(schema).toContain(`"${name}"`);
  });
});
