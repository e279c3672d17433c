import { describe, expect, it } from 'vitest';
import { RowLines } from '../../../../../src/plugins/loaders/postgres/row-lines.js';

describe('RowLines', () => {
  it('gives back the line of every row, across rejects, multi-line records and many runs', () => {
    const lines = new RowLines();
    const expected: number[] = [];
    let line = 2; // after the header
    for (let row = 0; row < 20_000; row++) {
      if (row % 997 === 5) line += 1; // a rejected row: not copied
      if (row % 1300 === 9) line += 2; // a record over three lines
      lines.push(line);
      expected.push(line);
      line++;
    }
    for (let n = 1; n <= expected.length; n++) expect(lines.get(n)).toBe(expected[n - 1]);
    expect(lines.get(0)).toBeUndefined();
    expect(lines.get(expected.length + 1)).toBeUndefined();
  });

  it('knows nothing before the first row', () => {
    expect(new RowLines().get(1)).toBeUndefined();
  });
});
