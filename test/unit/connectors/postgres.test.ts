import { describe, expect, it } from 'vitest';
import { postgresColumnType, postgresTypeOfSql } from '../../../src/connectors/postgres/column-types.js';
import { createCopyScratch, toCopyBytes } from '../../../src/connectors/postgres/copy-text.js';
import { copyErrorPosition, shiftCopyLine } from '../../../src/core/database-errors.js';

describe('toCopyBytes', () => {
  const rows = [
    ['1', 'plain'],
    ['2', 'a\u0000b'],
    ['3', 'tab\there ñ 😀'],
    ['4', 'half \ud83d'],
  ];

  it('without a guard writes every row (PostgreSQL then refuses the NUL)', () => {
    const text = toCopyBytes(rows, [0, 1], createCopyScratch()).toString();
    expect(text.split('\n')).toHaveLength(5);
  });

  it('leaves out the rows the guard refuses, and says which cell and character', () => {
    const seen: [number, number, string, number][] = [];
    const bytes = toCopyBytes(rows, [0, 1], createCopyScratch(), (row, index, text, at) => {
      seen.push([row, index, text, at]);
      return null;
    });
    expect(bytes.toString()).toBe('1\tplain\n3\ttab\\there ñ 😀\n');
    expect(seen).toEqual([
      [1, 1, 'a\u0000b', 1],
      [3, 1, 'half \ud83d', 5],
    ]);
  });

  it('writes what the guard gives instead', () => {
    const bytes = toCopyBytes(rows, [1], createCopyScratch(), (_row, _index, text) =>
      text.replaceAll('\u0000', '').replaceAll('\ud83d', ''),
    );
    expect(bytes.toString()).toBe('plain\nab\ntab\\there ñ 😀\nhalf \n');
  });
});

describe('PostgreSQL column types', () => {
  it('declares portable types', () => {
    expect(postgresTypeOfSql({ base: 'numeric', precision: 12, scale: 2 })).toBe('numeric(12,2)');
    expect(postgresTypeOfSql({ base: 'numeric', precision: 2000, scale: 2 })).toBe('numeric');
    expect(postgresTypeOfSql({ base: 'timestamptz', precision: 3 })).toBe('timestamp(3) with time zone');
    expect(postgresTypeOfSql({ base: 'timestamptz' })).toBe('timestamp with time zone');
    expect(postgresTypeOfSql({ base: 'double' })).toBe('double precision');
    expect(postgresTypeOfSql({ base: 'integer', array: true })).toBe('integer[]');
    expect(postgresTypeOfSql({ base: 'interval' })).toBe('interval');
  });

  it("uses a PostgreSQL source's declaration, a MySQL source's portable type, else the check's type", () => {
    const native = { dialect: 'postgres' as const, type: 'character varying(5)' };
    expect(postgresColumnType({ name: 'c', type: 'text', sqlType: { base: 'text', native } })).toBe(
      'character varying(5)',
    );
    const mysql = { dialect: 'mysql' as const, type: 'decimal(12,2)' };
    expect(
      postgresColumnType({
        name: 'c',
        type: 'numeric',
        sqlType: { base: 'numeric', precision: 12, scale: 2, native: mysql },
      }),
    ).toBe('numeric(12,2)');
    // A check made it an integer: the source's text type no longer applies.
    expect(postgresColumnType({ name: 'c', type: 'integer', sqlType: { base: 'text', native } })).toBe(
      'integer',
    );
    expect(postgresColumnType({ name: 'c' })).toBe('text');
  });
});

describe('copyErrorPosition', () => {
  it('reads the row and column of a COPY error', () => {
    expect(copyErrorPosition('COPY t, line 3, column n: "x"')).toEqual({ row: 3, column: 'n' });
    expect(copyErrorPosition('COPY t, line 7')).toEqual({ row: 7 });
    expect(copyErrorPosition(undefined)).toEqual({});
  });

  it('shifts the line of a later slice by the rows copied before it, the table name left alone', () => {
    const error = { where: 'COPY "line 3", line 3, column n: "x"' };
    expect(shiftCopyLine(error, 1000)).toBe(error);
    expect(error.where).toBe('COPY "line 3", line 1003, column n: "x"');
    const first = { where: 'COPY t, line 3' };
    shiftCopyLine(first, 0);
    expect(first.where).toBe('COPY t, line 3');
  });
});
