import { describe, expect, it } from 'vitest';
import type { PluginContext } from '../../../../src/core/plugin.js';
import type { RecordBatch } from '../../../../src/core/records.js';
import { normalizeTransform } from '../../../../src/plugins/transforms/normalize.js';

const context = {} as PluginContext;
const create = (options: unknown) =>
  normalizeTransform.create(normalizeTransform.options.parse(options), context);

function batch(rows: (string | null)[][]): RecordBatch {
  return {
    columns: [{ name: 'series' }, { name: 'obs_time', type: 'timestamp' }, { name: 'value' }],
    rows,
    origin: 'book.xlsx',
    lines: rows.map((_, i) => i + 2),
  };
}

describe('normalize', () => {
  it('reads naive times in a zone across both DST changes, and locale numbers', () => {
    const normalize = create({ timeZone: 'Europe/Madrid', numbers: { columns: ['value'], decimal: ',' } });
    const out = normalize({
      batch: batch([
        ['A', '2026-03-29 01:30:00', '1.234,5'],
        ['A', '2026-03-29 02:30:00', '1 234,5'], // in the spring gap
        ['A', '2026-10-25 02:30:00', '(12)'], // repeated in autumn; parentheses not asked: a reject
        ['A', '2026-10-25 02:30:00', '-12'],
      ]),
      rejects: [],
      rejectedRows: 0,
    });
    expect(out.batch.rows).toEqual([
      ['A', '2026-03-29 00:30:00', '1234.5'],
      ['A', '2026-03-29 01:30:00', '1234.5'],
      ['A', '2026-10-25 00:30:00', '-12'],
    ]);
    expect(out.batch.lines).toEqual([2, 3, 5]);
    expect(out.batch.columns[2]).toEqual({ name: 'value', type: 'numeric' });
    expect(out.rejectedRows).toBe(1);
    expect(out.rejects[0]).toMatchObject({
      line: 4,
      column: 'value',
      rule: 'normalizeNumber',
      value: '(12)',
    });
    expect(normalize.outcome?.()).toBe('normalize: 3 rows changed');
  });

  it('drops repeated keys (the first wins) and rows without a value, across batches, and counts them', () => {
    const normalize = create({ dedupe: { keys: ['series', 'obs_time'] }, dropEmpty: ['value'] });
    const first = normalize({
      batch: batch([
        ['A', '2026-01-01 00:00:00', '1'],
        ['A', '2026-01-01 00:00:00', '2'],
        ['B', '2026-01-01 00:00:00', null],
      ]),
      rejects: [],
      rejectedRows: 0,
    });
    const second = normalize({
      batch: batch([
        ['A', '2026-01-01 00:00:00', '3'],
        ['A', '2026-01-02 00:00:00', '4'],
      ]),
      rejects: [],
      rejectedRows: 0,
    });
    expect(first.batch.rows.map((r) => r[2])).toEqual(['1']);
    expect(second.batch.rows.map((r) => r[2])).toEqual(['4']);
    expect(normalize.outcome?.()).toBe(
      'normalize: 2 rows dropped as duplicates, 1 row dropped without a value',
    );
  });

  it("keeps the last row of each key of a unit when asked, released at the unit's end", () => {
    const normalize = create({ dedupe: { keys: ['series', 'obs_time'], keep: 'last' } });
    const first = normalize({
      batch: batch([
        ['A', '2026-01-01 00:00:00', '1'],
        ['B', '2026-01-01 00:00:00', '5'],
        ['A', '2026-01-01 00:00:00', '2'],
      ]),
      rejects: [],
      rejectedRows: 0,
    });
    const second = normalize({
      batch: batch([['A', '2026-01-01 00:00:00', '3']]),
      rejects: [],
      rejectedRows: 0,
    });
    // Nothing passes before the unit ends: a later batch may still replace any row.
    expect([...first.batch.rows, ...second.batch.rows]).toEqual([]);
    const end = normalize.endUnit?.();
    expect(end?.batch.rows).toEqual([
      ['B', '2026-01-01 00:00:00', '5'],
      ['A', '2026-01-01 00:00:00', '3'],
    ]);
    expect(end?.batch.lines).toEqual([3, 2]);
    expect(normalize.outcome?.()).toBe('normalize: 2 rows dropped as duplicates');
    // The next unit starts with nothing held: the same key there is not a duplicate of the last unit's.
    expect(normalize.endUnit?.()).toBeUndefined();
    normalize({ batch: batch([['A', '2026-01-01 00:00:00', '9']]), rejects: [], rejectedRows: 0 });
    expect(normalize.endUnit?.()?.batch.rows).toEqual([['A', '2026-01-01 00:00:00', '9']]);
  });

  it('names a column it does not find', () => {
    const normalize = create({ dropEmpty: ['nope'] });
    expect(() => normalize({ batch: batch([]), rejects: [], rejectedRows: 0 })).toThrow(
      /"nope", which the rows do not have/,
    );
  });
});
