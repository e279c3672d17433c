import { describe, expect, it } from 'vitest';
import { parseLocaleNumber } from '../../../src/core/locale-numbers.js';

describe('numbers as a locale writes them', () => {
  it('reads a decimal comma with dot, space or no grouping', () => {
    const comma = { decimal: ',' as const };
    expect(parseLocaleNumber('1.234,5', comma)).toBe('1234.5');
    expect(parseLocaleNumber('1 234,5', comma)).toBe('1234.5');
    expect(parseLocaleNumber('1\u202f234\u00a0567,25', comma)).toBe('1234567.25');
    expect(parseLocaleNumber('1234,5', comma)).toBe('1234.5');
    expect(parseLocaleNumber('-0,5', comma)).toBe('-0.5');
    expect(parseLocaleNumber(',5', comma)).toBe('0.5');
    expect(parseLocaleNumber('1.234', comma)).toBe('1234');
  });

  it('refuses what does not group by three or mixes marks, instead of misreading it', () => {
    const comma = { decimal: ',' as const };
    expect(parseLocaleNumber('1,234.5', comma)).toBeUndefined();
    expect(parseLocaleNumber('1.23,5', comma)).toBeUndefined();
    expect(parseLocaleNumber('1.234 567,5', comma)).toBeUndefined();
    expect(parseLocaleNumber('12a', comma)).toBeUndefined();
    expect(parseLocaleNumber('', comma)).toBeUndefined();
  });

  it('reads a decimal point, and parentheses as negative only when asked', () => {
    expect(parseLocaleNumber('1,234.5', { decimal: '.' })).toBe('1234.5');
    expect(parseLocaleNumber("1'234.5", { decimal: '.' })).toBe('1234.5');
    expect(parseLocaleNumber('(12)', { decimal: '.', parenthesesNegative: true })).toBe('-12');
    expect(parseLocaleNumber('(1.234,5)', { decimal: ',', parenthesesNegative: true })).toBe('-1234.5');
    expect(parseLocaleNumber('(12)', { decimal: '.' })).toBeUndefined();
  });
});
