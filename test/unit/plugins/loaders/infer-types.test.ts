import { describe, expect, it } from 'vitest';
import {
  createTypeInference,
  inferType,
  widenType,
} from '../../../../src/plugins/loaders/postgres/infer-types.js';

describe('inferType', () => {
  it('gives integer within int32, bigint within int64, numeric for decimals', () => {
    expect(inferType(['1', '-2', '0', '2147483647'])).toBe('integer');
    expect(inferType(['1', '2147483648'])).toBe('bigint');
    expect(inferType(['-9223372036854775808', '9223372036854775807'])).toBe('bigint');
    expect(inferType(['1', '2.5', '0.5', '-0.25', '1.50'])).toBe('numeric');
    expect(inferType([1, 2n, 3])).toBe('integer');
    expect(inferType([1, 2.5])).toBe('numeric');
  });

  it('keeps as text what a number type would change: leading zeros, signs, exponents, bare points', () => {
    // Postcodes, phone numbers, codes: the typed column would print them differently.
    expect(inferType(['08123', '28001'])).toBe('text');
    expect(inferType(['00'])).toBe('text');
    expect(inferType(['+34612345678'])).toBe('text');
    expect(inferType(['+3'])).toBe('text');
    expect(inferType(['-0'])).toBe('text');
    expect(inferType(['-0.00'])).toBe('text');
    expect(inferType(['1e5'])).toBe('text');
    expect(inferType(['-0.25E-2'])).toBe('text');
    expect(inferType(['.5'])).toBe('text');
    expect(inferType(['5.'])).toBe('text');
    expect(inferType(['007.5'])).toBe('text');
    expect(inferType(['NaN', 'Infinity', '-Infinity'])).toBe('text');
    expect(inferType([NaN, Infinity])).toBe('text');
  });

  it('keeps as text whole numbers beyond bigint, and decimals beyond numeric, with all their digits', () => {
    expect(inferType(['9223372036854775808'])).toBe('text');
    expect(inferType(['1', '123456789012345678901234567890'])).toBe('text');
    expect(inferType(['-9223372036854775809'])).toBe('text');
    expect(inferType([`0.${'1'.repeat(16383)}`])).toBe('numeric');
    expect(inferType([`0.${'1'.repeat(16384)}`])).toBe('text');
  });

  it('gives boolean for the words true and false only, in any case', () => {
    expect(inferType(['true', 'FALSE', 'True'])).toBe('boolean');
    expect(inferType([true, false])).toBe('boolean');
    // Codes that would read back as true or false once the column widens to text.
    expect(inferType(['F', 'f'])).toBe('text');
    expect(inferType(['t'])).toBe('text');
    expect(inferType(['yes', 'no'])).toBe('text');
    expect(inferType(['y'])).toBe('text');
    expect(inferType(['true', '1'])).toBe('text');
  });

  it('gives date and timestamp, a mix of the two being timestamp', () => {
    expect(inferType(['2026-11-01', '2024-02-29'])).toBe('date');
    expect(inferType(['2026-11-01 10:00', '2026-11-01T10:00:05', '2026-11-01 10:00:05.123456'])).toBe(
      'timestamp',
    );
    expect(inferType(['2026-11-01', '2026-11-01 10:00'])).toBe('timestamp');
    expect(inferType([new Date('2026-11-01T10:00:00Z')])).toBe('timestamp');
  });

  it('refuses impossible dates and times, finer than microseconds, and anything else, as text', () => {
    expect(inferType(['2026-02-30'])).toBe('text');
    expect(inferType(['2025-02-29'])).toBe('text');
    expect(inferType(['2026-13-01'])).toBe('text');
    expect(inferType(['0000-01-01'])).toBe('text');
    expect(inferType(['2026-11-01 24:00'])).toBe('text');
    expect(inferType(['2026-11-01 10:60'])).toBe('text');
    expect(inferType(['2026-11-01 10:00:00.1234567'])).toBe('text');
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
        ['y', '2', null, 'TRUE'],
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
