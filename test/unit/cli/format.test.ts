import { describe, expect, it } from 'vitest';
import {
  displayWidth,
  formatCount,
  formatDuration,
  formatTable,
  formatTime,
  parseTimestamp,
  plural,
} from '../../../src/cli/format.js';

describe('plural', () => {
  it('says 1 row, 0 rows, 2 rows, with thousands separators', () => {
    expect(plural(1, 'row')).toBe('1 row');
    expect(plural(0, 'row')).toBe('0 rows');
    expect(plural(2, 'row')).toBe('2 rows');
    expect(plural('1234567', 'row')).toBe('1,234,567 rows');
    expect(plural(1, 'entry', 'entries')).toBe('1 entry');
    expect(plural(3, 'entry', 'entries')).toBe('3 entries');
  });
  it('counts with separators whatever the locale', () => {
    expect(formatCount(9876543)).toBe('9,876,543');
    expect(formatCount('12')).toBe('12');
  });
});

describe('formatDuration', () => {
  it.each([
    [45, '45 ms'],
    [999.4, '999 ms'],
    [999.6, '1.0 s'],
    [1000, '1.0 s'],
    [12_345, '12.3 s'],
    [125_000, '2 min 05 s'],
    [3_600_000, '1 h 00 min'],
    [7_380_000, '2 h 03 min'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('timestamps', () => {
  it('reads PostgreSQL timestamptz text, with any offset and fraction', () => {
    expect(parseTimestamp('2026-11-27 06:02:05+00')?.toISOString()).toBe('2026-11-27T06:02:05.000Z');
    expect(parseTimestamp('2026-11-27 06:02:05.123456+05:30')?.toISOString()).toBe(
      '2026-11-27T00:32:05.123Z',
    );
    expect(parseTimestamp('2026-11-27 06:02:05.5-03')?.toISOString()).toBe('2026-11-27T09:02:05.500Z');
    expect(parseTimestamp('yesterday')).toBeUndefined();
  });
  it('formats in local time, and leaves other text as it is', () => {
    const date = new Date(2026, 10, 27, 6, 2, 5);
    expect(formatTime(date)).toBe('2026-11-27 06:02:05');
    expect(formatTime('not a time')).toBe('not a time');
    expect(formatTime(null)).toBe('');
  });
});

describe('formatTable', () => {
  it('aligns columns under a header, numbers to the right, without trailing spaces', () => {
    const text = formatTable(
      [{ header: 'NAME' }, { header: 'ROWS', right: true }, { header: 'NOTE' }],
      [
        ['a-rather-long-name', '1,234', ''],
        ['b', '5', 'x'],
      ],
    );
    expect(text).toBe(
      [
        'NAME                 ROWS  NOTE',
        'a-rather-long-name  1,234',
        'b                       5  x',
        '',
      ].join('\n'),
    );
  });
  it('counts wide characters as two columns', () => {
    expect(displayWidth('日本')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
    const text = formatTable(
      [{ header: 'A' }, { header: 'B' }],
      [
        ['日本', 'x'],
        ['ab', 'y'],
      ],
    );
    expect(text.split('\n')[1]).toBe('日本  x');
    expect(text.split('\n')[2]).toBe('ab    y');
  });
});
