import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../../../src/core/duration.js';
import { durationOrZeroSchema, durationSchema } from '../../../src/core/duration-schema.js';

describe('durations', () => {
  it('reads the short forms', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('6h')).toBe(21_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5h')).toBe(5_400_000);
  });

  it('refuses what is not a duration', () => {
    for (const text of ['', '6', 'h', '6 hours', '-1h', '1h foo'])
      expect(parseDuration(text), text).toBeUndefined();
  });

  it('says them back the short way', () => {
    expect(formatDuration(21_600_000)).toBe('6h');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(90_061_000)).toBe('1d1h1m1s');
    expect(formatDuration(250)).toBe('250ms');
  });
});

describe('durationSchema', () => {
  const message = (schema: z.ZodType, value: unknown) => schema.safeParse(value).error?.issues[0]?.message;

  it('takes durations with their units, in milliseconds', () => {
    expect(durationSchema.parse('30s')).toBe(30_000);
    expect(durationSchema.parse('1h30m')).toBe(5_400_000);
    expect(durationSchema.parse('250ms')).toBe(250);
    expect(durationOrZeroSchema.parse('0s')).toBe(0);
  });

  it('refuses a bare number (its unit would be a guess), other text and a zero where one cannot be', () => {
    expect(message(durationSchema, 30_000)).toBe(
      'a duration with its unit, such as "30s", "15m", "6h" or "7d"',
    );
    expect(message(durationSchema, '30000')).toBe('a duration such as "30s", "15m", "6h" or "7d"');
    expect(message(durationSchema, 'soon')).toBe('a duration such as "30s", "15m", "6h" or "7d"');
    expect(message(durationSchema, '0s')).toBe(
      'a duration longer than 0, such as "30s", "15m", "6h" or "7d"',
    );
    expect(message(durationOrZeroSchema, 0)).toBe(
      'a duration with its unit, such as "5s" or "2m" ("0s" for none)',
    );
  });
});
