import { describe, expect, it } from 'vitest';
import {
  createTypeInference,
  inferType,
  widenType,
} from '../../../../src/plugins/loaders/postgres/infer-types.js';

describe('inferType', () => {
  it('gives integer within int32, bigint within int64, numeric beyond and for decimals', () => {
    expect(inferType(['1', '-2', '+3', '2147483647'])).toBe('integer');
    expect(inferType(['1', '2147483648'])).toBe('bigint');
    expect(inferType(['-9223372036854775808', '9223372036854775807'])).toBe('bigint');
    expect(inferType(['9223372036854775808'])).toBe('numeric');
    expect(inferType(['1', '2.5', '.5', '1e3', '-0.25E-2'])).toBe('numeric');
    expect(inferType([1, 2n, 3])).toBe('integer');
    expect(inferType([1, 2.5])).toBe('numeric');
  });

  it('gives boolean for true/false/t/f/yes/no in any case', () => {
    expect(inferType(['true', 'FALSE', 't', 'F', 'Yes', 'no'])).toBe('boolean');
    expect(inferType([true, false])).toBe('boolean');
    expect(inferType(['yes', '1'])).toBe('text');
    expect(inferType(['y'])).toBe('text');
  });

  it('gives date and timestamp, a mix of the two being timestamp', () => {
    expect(inferType(['2026-11-01', '2024-02-29'])).toBe('date');
    expect(inferType(['2026-11-01 10:00', '2026-11-01T10:00:05', '2026-11-01 10:00:05.123'])).toBe(
      'timestamp',
    );
    expect(inferType(['2026-11-01', '2026-11-01 10:00'])).toBe('timestamp');
    expect(inferType([new Date('2026-11-01T10:00:00Z')])).toBe('timestamp');
  });

  it('refuses impossible dates and times, and anything else, as text', () => {
    expect(inferType(['2026-02-30'])).toBe('text');
    expect(inferType(['2025-02-29'])).toBe('text');
    expect(inferType(['2026-13-01'])).toBe('text');
    expect(inferType(['2026-11-01 24:00'])).toBe('text');
    expect(inferType(['2026-11-01 10:00:00Z'])).toBe('text');
    expect(inferType(['1', 'abc'])).toBe('text');
    expect(inferType(['1', '2026-11-01'])).toBe('text');
    expect(inferType([''])).toBe('text');
    expect(inferType([{ a: 1 }])).toBe('text');
  });

  it('ignores nulls; an all-null column is text', () => {
    expect(inferType([null, '1', null])).toBe('integer');
    expect(inferType([null, null])).toBe('text');
    expect(inferType([])).toBe('text');
  });
});

describe('createTypeInference', () => {
  it('widens batch after batch, picks columns by index and says undefined for only nulls', () => {
    const inference = createTypeInference(3);
    inference.add(
      [
        ['x', '1', null, '2026-11-01'],
        ['y', '2', null, 'true'],
      ],
      [1, 2, 3],
    );
    expect(inference.types()).toEqual(['integer', undefined, 'text']);
    inference.add([['z', '3.5', '2026-11-01', 'false']], [1, 2, 3]);
    expect(inference.types()).toEqual(['numeric', 'date', 'text']);
  });
});

describe('widenType', () => {
  it('follows integer → bigint → numeric → text and date → timestamp → text, never narrowing', () => {
    expect(widenType('integer', 'bigint')).toBe('bigint');
    expect(widenType('integer', 'numeric')).toBe('numeric');
    expect(widenType('numeric', 'integer')).toBe('numeric');
    expect(widenType('bigint', 'bigint')).toBe('bigint');
    expect(widenType('date', 'timestamp')).toBe('timestamp');
    expect(widenType('timestamp', 'date')).toBe('timestamp');
    expect(widenType('integer', 'date')).toBe('text');
    expect(widenType('boolean', 'integer')).toBe('text');
    expect(widenType('numeric', 'text')).toBe('text');
    expect(widenType('text', 'integer')).toBe('text');
    expect(widenType('json', 'integer')).toBe('text');
  });
});
