import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigReader,
  formatKeyPath,
  interpolateConfig,
  loadConfig,
  unknownKeyMessage,
} from '../../../src/core/config-file.js';
import { describeError, SluiceError } from '../../../src/core/errors.js';
import { editorJsonSchema } from '../../../src/core/json-schema.js';
import { isPathOption, pathOption, resolvePaths } from '../../../src/core/path-option.js';

function refusal(work: () => unknown): SluiceError {
  try {
    work();
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('interpolateConfig', () => {
  it('fills strings anywhere, marks what came from the environment, and lists unset variables with their path', () => {
    const filled = interpolateConfig(
      { a: '${A}', list: ['x', '${B:-b}', 'cost $${X}'], deep: { c: 'pre-${C}-post', n: 5 } },
      { A: '1' },
    );
    expect(filled.value).toEqual({ a: '1', list: ['x', 'b', 'cost ${X}'], deep: { c: 'pre--post', n: 5 } });
    expect(filled.unset).toEqual([{ path: ['deep', 'c'], name: 'C' }]);
    expect([...filled.fromEnv].sort()).toEqual(['["a"]', '["deep","c"]', '["list",1]']);
  });

  it('leaves out a key whose lone ${VAR:-} comes out empty, and only such a key', () => {
    const filled = interpolateConfig(
      { gone: '${PW:-}', kept: '${PW:-}x', set: '${SET:-}', list: ['${PW:-}'], noDefault: '${NONE}' },
      { SET: 'yes' },
    );
    expect(filled.value).toEqual({ kept: 'x', set: 'yes', list: [''], noDefault: '' });
    expect(filled.unset).toEqual([{ path: ['noDefault'], name: 'NONE' }]);
  });
});

describe('loadConfig', () => {
  const schema = z.strictObject({
    name: z.string(),
    port: z.number().int().optional(),
    verbose: z.boolean().optional(),
    folder: pathOption().optional(),
  });
  const load = (text: string, env: Record<string, string> = {}) =>
    loadConfig(text, schema, { file: 'conf/app.yaml', env, what: 'the app file is invalid' });

  it('gives the value, reading numbers and booleans from ${VAR} text where the schema wants them', () => {
    const loaded = load('name: a\nport: ${PORT}\nverbose: ${VERBOSE:-false}\nfolder: data\n', {
      PORT: '8080',
    });
    expect(loaded.value).toEqual({
      name: 'a',
      port: 8080,
      verbose: false,
      folder: path.resolve('conf/data'),
    });
    expect(loaded.raw).toEqual({ name: 'a', port: '${PORT}', verbose: '${VERBOSE:-false}', folder: 'data' });
  });

  it('lists every problem with line, column and key path, the unknown keys at their key', () => {
    const error = refusal(() => load('name: 5\nprot: 1\nport: 1.5\n'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(describeError(error)).toBe(
      [
        'conf/app.yaml: the app file is invalid (3 problems):',
        '  1:7 name: expected string, received number (found 5)',
        '  2:1 prot: unknown key; did you mean port?',
        '  3:7 port: expected int, received number (found 1.5)',
      ].join('\n'),
    );
  });

  it('is ENV_MISSING when the only problems are unset variables', () => {
    const error = refusal(() => load('name: ${NAME}\nport: ${PORT}\n'));
    expect(error.code).toBe('ENV_MISSING');
    expect(error.message).toBe(
      'environment variables are not set (2 problems):\n' +
        '  1:7 name: environment variable NAME is not set\n' +
        '  2:7 port: environment variable PORT is not set',
    );
    expect(error.hint).toMatch(/\$\{NAME:-default\}/);
  });

  it('refuses what the YAML parser refuses, at the first error', () => {
    expect(describeError(refusal(() => load('name: a\n  bad: indent\n')))).toMatch(
      /^conf\/app\.yaml:1:7: the YAML cannot be read: Nested mappings/,
    );
    expect(describeError(refusal(() => load('name: a\n---\nname: b\n')))).toMatch(
      /^conf\/app\.yaml:\d+:\d+: the YAML cannot be read: Source contains multiple documents/,
    );
  });
});

describe('ConfigReader', () => {
  it('leaves out the problems of a value that depends on an unset variable, as a lint does', () => {
    const reader = ConfigReader.fromValue(
      { port: '${PORT}', name: 7 },
      { file: 'x', env: {}, unsetEnv: 'warn' },
    );
    reader.check(z.strictObject({ port: z.number(), name: z.string() }), reader.value, []);
    expect(reader.warnings).toEqual(['x: port: environment variable PORT is not set']);
    expect(reader.problems.map((p) => formatKeyPath(p.path))).toEqual(['name']);
  });
});

describe('messages', () => {
  it('formats key paths with indexes', () => {
    expect(formatKeyPath(['rules', 0, 'targetFolder'])).toBe('rules[0].targetFolder');
    expect(formatKeyPath([])).toBe('');
  });

  it('suggests the closest known key, or lists them', () => {
    expect(unknownKeyMessage('globb', ['url', 'glob'])).toBe('unknown key; did you mean glob?');
    expect(unknownKeyMessage('processdDir', ['processedDir', 'rejectedDir'])).toBe(
      'unknown key; did you mean processedDir?',
    );
    expect(unknownKeyMessage('zz', ['url', 'glob'])).toBe('unknown key; expected one of: url, glob');
    expect(unknownKeyMessage('x', [])).toBe('unknown key');
  });
});

describe('path options', () => {
  it('resolve relative paths inside objects, lists, records and unions, and leave URLs alone', () => {
    const schema = z.strictObject({
      dir: pathOption(),
      url: pathOption(),
      name: z.string(),
      list: z.array(z.strictObject({ to: pathOption().optional().describe('d') })),
      byName: z.record(z.string(), pathOption()),
      either: z.union([z.literal('table'), z.array(pathOption())]),
    });
    expect(
      resolvePaths(
        schema,
        {
          dir: 'out',
          url: 'file:///srv/in',
          name: 'out',
          list: [{ to: '../x' }, {}],
          byName: { a: '/abs' },
          either: ['a'],
        },
        '/base/conf',
      ),
    ).toEqual({
      dir: '/base/conf/out',
      url: 'file:///srv/in',
      name: 'out',
      list: [{ to: '/base/x' }, {}],
      byName: { a: '/abs' },
      either: ['/base/conf/a'],
    });
  });

  it('keep their mark through describe and optional', () => {
    expect(isPathOption(pathOption().describe('d'))).toBe(true);
    expect(isPathOption(z.string())).toBe(false);
  });
});

describe('editorJsonSchema', () => {
  it('lets every scalar field take a ${VAR} reference, keeps descriptions outside, and drops formats', () => {
    const json = editorJsonSchema(
      z.strictObject({
        port: z.number().int().describe('The port.'),
        mode: z.enum(['a', 'b']),
        text: z.string(),
        url: z.string().url(),
        list: z.array(z.string()),
        nested: z.strictObject({ on: z.boolean() }),
      }),
      { title: 'T' },
    ) as { properties: Record<string, Record<string, unknown>> };
    const reference = expect.objectContaining({ type: 'string', pattern: expect.stringContaining('\\$\\{') });
    expect(json.properties.port).toEqual({
      description: 'The port.',
      anyOf: [expect.objectContaining({ type: 'integer' }), reference],
    });
    expect(json.properties.mode!.anyOf).toEqual([{ type: 'string', enum: ['a', 'b'] }, reference]);
    expect(json.properties.text).toEqual({ type: 'string' });
    expect(json.properties.url).toEqual({ type: 'string' });
    expect(json.properties.list).toEqual({ type: 'array', items: { type: 'string' } });
    expect((json.properties.nested!.properties as Record<string, unknown>).on).toEqual({
      anyOf: [{ type: 'boolean' }, reference],
    });
  });
});
