import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/core/duration.js';

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
