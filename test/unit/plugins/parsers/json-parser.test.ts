import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../src/core/errors.js';
import type { BatchResult, PluginContext } from '../../../../src/core/plugin.js';
import { jsonParser } from '../../../../src/plugins/parsers/json-parser.js';

const warnings: string[] = [];
const context: PluginContext = {
  logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} },
  signal: new AbortController().signal,
  workDir: '/tmp',
};

async function parse(input: string, options: Record<string, unknown> = {}, chunkSize?: number) {
  const bytes = Buffer.from(input, 'utf8');
  const chunks: Buffer[] = [];
  const size = chunkSize ?? bytes.length;
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  const results: BatchResult[] = [];
  const parsed = jsonParser.parse(
    { stream: Readable.from(chunks), origin: 'f.json' },
    jsonParser.options.parse(options),
    context,
  );
  for await (const result of parsed) results.push(result);
  return {
    batches: results.length,
    columns: results.map((r) => r.batch.columns.map((c) => c.name)),
    rows: results.flatMap((r) => r.batch.rows),
    lines: results.flatMap((r) => r.batch.lines),
    raw: results.flatMap((r) => r.batch.raw ?? []),
    rejects: results.flatMap((r) => r.rejects),
  };
}

async function parseError(input: string, options: Record<string, unknown> = {}): Promise<SluiceError> {
  try {
    await parse(input, options);
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected the parse to fail');
}

const doc = `{
  "data": {
    "total": 3,
    "items": [
      {"id": 1, "name": "Ana", "tags": ["a", "b"]},
      {"id": 2, "name": "Bo", "address": {"city": "Lyon", "zip": "69001"}},
      {
        "id": 12345678901234567890,
        "name": null,
        "ok": true,
        "price": 0.1000000000000000055511151231257827
      }
    ]
  },
  "meta": {"page": 1}
}`;

describe('json parser', () => {
  it('reads the records at a path, columns in order of first appearance, numbers as written', async () => {
    const out = await parse(doc, { path: 'data.items' });
    expect(out.columns[0]).toEqual(['id', 'name', 'tags', 'address', 'ok', 'price']);
    expect(out.rows).toEqual([
      ['1', 'Ana', '["a","b"]', null, null, null],
      ['2', 'Bo', null, '{"city":"Lyon","zip":"69001"}', null, null],
      ['12345678901234567890', null, null, null, 'true', '0.1000000000000000055511151231257827'],
    ]);
    expect(out.lines).toEqual([5, 6, 7]);
    expect(out.raw[0]).toBe('{"id": 1, "name": "Ana", "tags": ["a", "b"]}');
    expect(out.raw[2]).toBe(doc.slice(doc.indexOf('{\n        "id": 123'), doc.indexOf('}\n    ]') + 1));
  });

  it('gives the same result whatever the chunk size', async () => {
    const whole = await parse(doc, { path: 'data.items' });
    for (const size of [1, 3, 17]) expect(await parse(doc, { path: 'data.items' }, size)).toEqual(whole);
  });

  it('flattens nested objects into parent.child columns on request', async () => {
    const out = await parse(doc, { path: 'data.items', nested: 'flatten' });
    expect(out.columns[0]).toEqual(['id', 'name', 'tags', 'address.city', 'address.zip', 'ok', 'price']);
    expect(out.rows[1]).toEqual(['2', 'Bo', null, 'Lyon', '69001', null, null]);
  });

  it('keeps the columns of the sample for every batch; later unknown keys are rejected with their line', async () => {
    const lines = ['{"a":1}', '{"a":2,"b":3}', '{"a":4}', '{"a":5,"c":6}', '{"a":7}'];
    const out = await parse(lines.join('\n'), { format: 'jsonl', sampleSize: 2, batchSize: 2 });
    expect(out.columns.every((c) => c.join() === 'a,b')).toBe(true);
    expect(out.rows).toEqual([
      ['1', null],
      ['2', '3'],
      ['4', null],
      ['7', null],
    ]);
    expect(out.rejects).toEqual([
      expect.objectContaining({ line: 4, rule: 'unknownKey', raw: '{"a":5,"c":6}', origin: 'f.json' }),
    ]);
  });

  it('drops unknown keys with one warning when asked', async () => {
    warnings.length = 0;
    const input = '[{"a":1},{"a":2,"z":1},{"a":3,"z":2}]';
    const out = await parse(input, { columns: ['a'], unknownKeys: 'ignore' });
    expect(out.rows).toEqual([['1'], ['2'], ['3']]);
    expect(warnings).toEqual(['f.json: key "z" is not among the columns; ignored']);
  });

  it('takes explicit columns in their order, absent keys as null', async () => {
    const out = await parse('[{"b":1,"a":2},{"a":3}]', { columns: ['a', 'b'] });
    expect(out.columns[0]).toEqual(['a', 'b']);
    expect(out.rows).toEqual([
      ['2', '1'],
      ['3', null],
    ]);
  });

  it('rejects a record that is not an object', async () => {
    const out = await parse('[{"a":1}, 5, "x"]');
    expect(out.rows).toEqual([['1']]);
    expect(out.rejects.map((r) => [r.rule, r.message])).toEqual([
      ['jsonType', 'expected an object, found a number'],
      ['jsonType', 'expected an object, found a string'],
    ]);
  });

  it('gives one empty batch for an empty array, and none of the records of other arrays', async () => {
    const out = await parse('{"x":{"y":[{"a":1}]},"items":[]}', { path: 'items', columns: ['a'] });
    expect(out.batches).toBe(1);
    expect(out.rows).toEqual([]);
    expect(out.columns[0]).toEqual(['a']);
  });

  it('says when the path is missing or not an array', async () => {
    const missing = await parseError('{"data":{}}', { path: 'data.items' });
    expect(missing.code).toBe('LAYOUT_MISMATCH');
    expect(missing.message).toContain('no array at data.items');
    const object = await parseError('{"data":{"items":{"a":{"x":1}}}}', { path: 'data.items' });
    expect(object.code).toBe('LAYOUT_MISMATCH');
    expect(object.message).toContain('found an object');
  });

  it('names the line of a syntax error', async () => {
    const error = await parseError('[\n{"a":1},\n{"a":2,,}\n]');
    expect(error.code).toBe('PARSE_FAILED');
    expect(error.where).toBe('f.json:3');
  });

  it('refuses an empty file and a truncated one', async () => {
    expect((await parseError('')).code).toBe('FILE_EMPTY');
    expect((await parseError('[{"a":1},{"a"')).code).toBe('PARSE_FAILED');
  });

  it('reads JSON Lines with blank lines and a trailing newline, with line numbers', async () => {
    expect((await parseError('{"a":1}\n\n{"a":2}\n')).code).toBe('LAYOUT_MISMATCH');
    const jsonl = await parse('{"a":1}\n\n{"a":2}\n', { format: 'jsonl' });
    expect(jsonl.rows).toEqual([['1'], ['2']]);
    expect(jsonl.lines).toEqual([1, 3]);
  });

  it('reads the records at a path inside each JSON line', async () => {
    const out = await parse('{"items":[{"a":1},{"a":2}]}\n{"items":[{"a":3}]}\n', {
      format: 'jsonl',
      path: 'items',
    });
    expect(out.rows).toEqual([['1'], ['2'], ['3']]);
    expect(out.lines).toEqual([1, 1, 2]);
  });

  it('validates the path option', () => {
    expect(jsonParser.options.safeParse({ path: 'data[0]' }).success).toBe(false);
    expect(jsonParser.options.safeParse({ path: 'data.items' }).success).toBe(true);
  });
});

describe('json parser on a file that breaks off', () => {
  it('fails with PARSE_FAILED naming the file and line, wherever the file is cut', async () => {
    for (const format of ['json', 'jsonl'] as const) {
      const text =
        format === 'json'
          ? doc
          : '{"id":1,"name":"Ana"}\n{"id":2,"tags":["a","b"],"n":{"x":1.5}}\n{"id":3,"name":"Zoë \\"Z\\""}\n';
      for (let cut = 1; cut < text.length - 1; cut++) {
        const head = text.slice(0, cut);
        // A JSON Lines file cut right after a whole line is a shorter valid file.
        if (format === 'jsonl' && /\}\n?$/.test(head)) continue;
        const options = format === 'json' ? { path: 'data.items' } : { format };
        const error = await parseError(head, options).catch((e: unknown) => e);
        expect(error, `${format} cut at ${cut}`).toBeInstanceOf(SluiceError);
        const { code, where } = error as SluiceError;
        expect(['PARSE_FAILED', 'LAYOUT_MISMATCH', 'FILE_EMPTY'], `${format} cut at ${cut}`).toContain(code);
        expect(where, `${format} cut at ${cut}`).toMatch(/^f\.json(:\d+)?$/);
      }
    }
  });
});
