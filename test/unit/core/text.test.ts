import { describe, expect, it } from 'vitest';
import { formatCount, plural } from '../../../src/core/text.js';

describe('formatCount', () => {
  it('groups thousands as en-US does, for every length and sign', () => {
    const samples = [0, 7, 42, 999, 1000, 12_345, 999_999, 1_000_000, 1_234_567_890, Number.MAX_SAFE_INTEGER];
    for (const n of [...samples, ...samples.slice(1).map((s) => -s)]) {
      expect(formatCount(n), String(n)).toBe(n.toLocaleString('en-US'));
    }
    expect(formatCount('1234567')).toBe('1,234,567');
  });

  it('leaves what is not a safe integer to toLocaleString', () => {
    expect(formatCount(1234.5)).toBe('1,234.5');
    expect(formatCount(2 ** 60)).toBe((2 ** 60).toLocaleString('en-US'));
    expect(formatCount('x')).toBe('NaN');
  });
});

describe('plural', () => {
  it('says 1 row, 2 rows and a given plural form', () => {
    expect(plural(1, 'row')).toBe('1 row');
    expect(plural(1234, 'row')).toBe('1,234 rows');
    expect(plural('2', 'entry', 'entries')).toBe('2 entries');
  });
});
