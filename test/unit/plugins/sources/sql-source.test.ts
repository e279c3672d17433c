import { describe, expect, it } from 'vitest';
import { describeError } from '../../../../src/core/errors.js';
import { parsePipeline } from '../../../../src/core/spec.js';
import { createRegistry } from '../../../../src/plugins/index.js';
import { CopyTextDecoder } from '../../../../src/connectors/postgres/copy-text-decode.js';
import { readFrom, sqlSourceOptions, withMode } from '../../../../src/plugins/sources/sql/sql-options.js';

const registry = createRegistry();
const options = (o: Record<string, unknown>) =>
  withMode(sqlSourceOptions.parse({ url: 'postgres://h/db', ...o }));

describe('sql source: where a read starts', () => {
  it('reads everything on a first incremental run, then past the watermark less the lookback', () => {
    const o = options({ table: 't', incrementalColumn: 'at', lookback: '2d' });
    expect(o.mode).toBe('incremental');
    expect(readFrom(o, undefined)).toEqual({ kind: 'all' });
    expect(readFrom(o, { column: 'at', value: '2026-11-01' })).toEqual({
      kind: 'after',
      column: 'at',
      value: '2026-11-01',
      lookbackMs: 2 * 86_400_000,
    });
  });

  it('ignores a watermark saved for another column', () => {
    const o = options({ table: 't', incrementalColumn: 'at' });
    expect(readFrom(o, { column: 'id', value: '7' })).toEqual({ kind: 'all' });
  });

  it('a sliding window starts from today on its first run; a full refresh always reads everything', () => {
    const sliding = options({ table: 't', incrementalColumn: 'at', mode: 'sliding_window', lookback: '36h' });
    expect(readFrom(sliding, undefined)).toEqual({
      kind: 'recent',
      column: 'at',
      lookbackMs: 36 * 3_600_000,
    });
    const full = options({ table: 't', incrementalColumn: 'at', mode: 'full_refresh' });
    expect(readFrom(full, { column: 'at', value: '2026-11-01' })).toEqual({ kind: 'all' });
    expect(options({ table: 't' }).mode).toBe('full_refresh');
  });

  it('says what is missing or contradictory, with the key path', () => {
    const problems = (yaml: string) => {
      try {
        parsePipeline(
          `name: p\nsource:\n  type: sql\n  url: postgres://h/db\n${yaml}\nload:\n  type: postgres\n  table: t\n`,
          {
            registry,
            file: 'p.yaml',
          },
        );
        return '';
      } catch (error) {
        return describeError(error);
      }
    };
    expect(problems('  table: t\n  query: SELECT 1')).toMatch(
      /p\.yaml:\d+:\d+: source\.table: give either table or query/,
    );
    expect(problems('  table: t\n  mode: incremental')).toMatch(
      /source\.incrementalColumn: mode incremental needs an incrementalColumn/,
    );
    expect(problems('  table: t\n  incrementalColumn: at\n  mode: sliding_window')).toMatch(
      /source\.lookback: sliding_window needs lookback/,
    );
    expect(problems('  table: t\nparse:\n  type: csv')).toMatch(
      /parse: the sql source gives records: leave parse out/,
    );
    expect(problems('  table: t\n  tinyint1AsBoolean: true')).toMatch(
      /source\.tinyint1AsBoolean: tinyint1AsBoolean is for mysql:\/\/ and mariadb:\/\/ sources/,
    );
    expect(problems('  table: t\nrun:\n  refreshEvery: soon')).toMatch(
      /run\.refreshEvery: a duration such as/,
    );
  });
});

describe('COPY text output', () => {
  const encode = (s: string) => new TextEncoder().encode(s);

  it('splits rows and fields, reads \\N as null and undoes the escapes', () => {
    const d = new CopyTextDecoder();
    expect(d.push(encode('1\ta\\tb\t\\N\n2\tback\\\\slash\tline\\nbreak\n'))).toEqual([
      ['1', 'a\tb', null],
      ['2', 'back\\slash', 'line\nbreak'],
    ]);
    d.end();
  });

  it('keeps a row that straddles chunks, multi-byte characters included', () => {
    const d = new CopyTextDecoder();
    const bytes = encode('1\tñandú\n2\tzo\n');
    const cut = 5; // inside the two-byte ñ
    expect(d.push(bytes.subarray(0, cut))).toEqual([]);
    expect(d.push(bytes.subarray(cut))).toEqual([
      ['1', 'ñandú'],
      ['2', 'zo'],
    ]);
    d.end();
  });

  it('refuses output that stops inside a row', () => {
    const d = new CopyTextDecoder();
    d.push(encode('1\tcomplete\n2\thalf'));
    expect(() => d.end()).toThrow(/ended inside a row/);
  });
});
