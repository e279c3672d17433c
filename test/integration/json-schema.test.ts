import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { REPO } from '../helpers/pipeline-harness.js';

/** Every YAML file under examples/ that is a pipeline (a mapping with `source:`), as [relative path, value]. */
async function examplePipelines(): Promise<[string, unknown][]> {
  const found: [string, unknown][] = [];
  const entries = await readdir(path.join(REPO, 'examples'), { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const value: unknown = parse(await readFile(file, 'utf8'));
    if (value !== null && typeof value === 'object' && 'source' in value)
      found.push([path.relative(REPO, file), value]);
  }
  return found.sort(([a], [b]) => a.localeCompare(b));
}

/** The keywords a JSON Schema uses anywhere (the names of its properties left out). */
function keywords(schema: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const item of schema) keywords(item, found);
  else if (schema !== null && typeof schema === 'object')
    for (const [key, value] of Object.entries(schema)) {
      found.add(key);
      if (key === 'properties' && value !== null && typeof value === 'object')
        for (const property of Object.values(value)) keywords(property, found);
      else keywords(value, found);
    }
  return found;
}

describe('sluice schema', () => {
  let validate: ValidateFunction;
  let schema: Record<string, unknown>;
  beforeAll(async () => {
    const result = await runCli(['schema']);
    expect(result.code, result.stderr).toBe(0);
    schema = JSON.parse(result.stdout) as Record<string, unknown>;
    // An independent validator with its defaults (strict mode included): the schema must need no flag,
    // no custom format and no keyword ajv does not know.
    validate = new Ajv().compile(schema);
  });

  it('is draft-07, which the yaml-language-server supports', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect([...keywords(schema)]).not.toContain('format');
  });

  it('accepts every shipped example pipeline', async () => {
    const pipelines = await examplePipelines();
    expect(pipelines.map(([file]) => file)).toEqual([
      'examples/lake/pipeline.yaml',
      'examples/scan/import.yaml',
      'examples/scan/scan.yaml',
      'examples/sync/pipelines/assignment_data.yaml',
      'examples/sync/pipelines/dashboard_data.yaml',
      'examples/sync/pipelines/evolution_data.yaml',
      'examples/sync/pipelines/operation_data.yaml',
      'examples/sync/pipelines/productivity_data.yaml',
      'examples/visits/pipeline.yaml',
    ]);
    for (const [file, value] of pipelines) expect(validate(value) ? [] : validate.errors, file).toEqual([]);
  });

  it('takes the source type from url, and a ${VAR} in a number, boolean or enum field', () => {
    const pipeline = (extra: Record<string, unknown>) => ({
      name: 'p',
      source: { url: '/srv/in', ...extra },
      parse: { type: 'csv', batchSize: '${BATCH:-500}' },
      load: { type: 'postgres', table: 't', mode: '${MODE}', createTable: '${CREATE:-true}' },
    });
    expect(validate(pipeline({})), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(pipeline({ onLoad: '${ON_LOAD:-move}' })), JSON.stringify(validate.errors)).toBe(true);
  });

  it('still refuses unknown keys, wrong types and values outside an enum', () => {
    const valid = {
      name: 'p',
      source: { url: '/srv/in' },
      parse: { type: 'csv' },
      load: { type: 'postgres', table: 't' },
    };
    expect(validate(valid)).toBe(true);
    expect(validate({ ...valid, source: { url: '/srv/in', globb: '*.csv' } })).toBe(false);
    expect(validate({ ...valid, parse: { type: 'csv', batchSize: 'many' } })).toBe(false);
    expect(validate({ ...valid, load: { type: 'postgres', table: 't', mode: 'upsert' } })).toBe(false);
    expect(validate({ ...valid, parse: { type: 'tsv' } })).toBe(false);
    expect(validate({ ...valid, name: undefined })).toBe(false);
  });
});
