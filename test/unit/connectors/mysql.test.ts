import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../src/core/errors.js';
import { firstRefused } from '../../../src/core/sql.js';
import {
  describeMysqlColumn,
  mysqlColumnType,
  mysqlTypeOfSql,
  type MysqlField,
} from '../../../src/connectors/mysql/column-types.js';
import { mysqlCharacterRule } from '../../../src/connectors/mysql/mysql-charsets.js';
import {
  classifyMysqlError,
  isMysqlTargetError,
  mysqlErrorColumn,
} from '../../../src/connectors/mysql/mysql-errors.js';
import { quoteMysqlIdent } from '../../../src/connectors/mysql/mysql-ident.js';
import { utcWallTime } from '../../../src/connectors/mysql/mysql-values.js';

const driver = (code: string, errno: number, sqlMessage = 'x') =>
  Object.assign(new Error(sqlMessage), { code, errno, sqlMessage });

describe('classifyMysqlError', () => {
  it.each([
    ['ECONNREFUSED', -111, 'DATABASE_UNREACHABLE'],
    ['ECONNRESET', -104, 'DATABASE_UNREACHABLE'],
    ['PROTOCOL_CONNECTION_LOST', 0, 'DATABASE_UNREACHABLE'],
    ['ER_LOCK_DEADLOCK', 1213, 'DATABASE_ERROR'],
    ['ER_LOCK_WAIT_TIMEOUT', 1205, 'DATABASE_ERROR'],
  ])('%s is retryable', (code, errno, sluiceCode) => {
    const e = classifyMysqlError(driver(code, errno), 'mysql://u@h/db');
    expect(e).toMatchObject({ code: sluiceCode, retryable: true });
  });

  it.each([
    ['ER_DUP_ENTRY', 1062],
    ['ER_PARSE_ERROR', 1064],
    ['ER_ACCESS_DENIED_ERROR', 1045],
    ['ER_NO_SUCH_TABLE', 1146],
  ])('%s is permanent', (code, errno) => {
    expect(classifyMysqlError(driver(code, errno, 'refused'), 'mysql://u@h/db')).toMatchObject({
      code: 'DATABASE_ERROR',
      retryable: false,
      message: expect.stringContaining(`refused [${code} ${errno}]`),
    });
  });

  it('passes SluiceErrors and unknown errors through', () => {
    const sluice = new SluiceError('LOAD_FAILED', 'x');
    expect(classifyMysqlError(sluice, 'l')).toBe(sluice);
    const other = new TypeError('bug');
    expect(classifyMysqlError(other, 'l')).toBe(other);
  });
});

describe('quoteMysqlIdent', () => {
  it('doubles backticks and refuses empty names and NUL', () => {
    expect(quoteMysqlIdent('a`b"c')).toBe('`a``b"c`');
    expect(() => quoteMysqlIdent('')).toThrow();
    expect(() => quoteMysqlIdent('a\u0000')).toThrow();
  });
});

describe('mysqlErrorColumn', () => {
  it('reads the column from the messages MySQL and MariaDB give', () => {
    expect(mysqlErrorColumn("Incorrect integer value: 'x' for column `db`.`t`.`n` at row 4")).toBe('n');
    expect(mysqlErrorColumn("Incorrect integer value: 'x' for column 'n' at row 1")).toBe('n');
    expect(mysqlErrorColumn("Data too long for column 'code' at row 2")).toBe('code');
    expect(mysqlErrorColumn("Column 'id' cannot be null")).toBe('id');
    expect(mysqlErrorColumn("Duplicate entry '1' for key 'PRIMARY'")).toBeUndefined();
  });

  it('tells errors about the file apart from errors about the server', () => {
    expect(
      isMysqlTargetError(classifyMysqlError(driver('ER_TRUNCATED_WRONG_VALUE_FOR_FIELD', 1366), 'l')),
    ).toBe(true);
    expect(isMysqlTargetError(driver('ER_TOO_MANY_FIELDS', 1117))).toBe(true);
    expect(isMysqlTargetError(driver('ER_LOCK_DEADLOCK', 1213))).toBe(false);
    expect(isMysqlTargetError(driver('ER_NO_SUCH_TABLE', 1146))).toBe(false);
  });
});

describe('mysqlCharacterRule', () => {
  const refused = (charset: string, text: string) => firstRefused(text, mysqlCharacterRule(charset)!);

  it('utf8mb4 stores everything but lone surrogates; utf8mb3 and ucs2 nothing beyond U+FFFF', () => {
    expect(refused('utf8mb4', 'a\u0000😀中')).toBe(-1);
    expect(refused('utf8mb4', 'a\ud83d')).toBe(1);
    expect(refused('utf8mb3', 'ñ中€')).toBe(-1);
    expect(refused('utf8', 'ok 😀')).toBe(3);
    expect(refused('ucs2', '😀')).toBe(0);
  });

  it("latin1 stores windows-1252's characters, ascii 128", () => {
    expect(refused('latin1', 'café € Œuvre ‰ ÿ \u0081')).toBe(-1);
    expect(refused('latin1', 'x中')).toBe(1);
    expect(refused('latin1', '\u0080')).toBe(0);
    expect(refused('ascii', 'plain')).toBe(-1);
    expect(refused('ascii', 'é')).toBe(0);
    expect(mysqlCharacterRule('cp1251')).toBeUndefined();
    expect(mysqlCharacterRule(null)).toBeUndefined();
  });
});

describe('utcWallTime', () => {
  it('writes an instant as DATETIME text in UTC, keeping its fraction', () => {
    expect(utcWallTime('2026-11-01 10:00:00.125+02')).toBe('2026-11-01 08:00:00.125');
    expect(utcWallTime('2026-11-01 10:00:00+00')).toBe('2026-11-01 10:00:00');
    expect(utcWallTime('2026-11-01T01:30:00-05:30')).toBe('2026-11-01 07:00:00');
    expect(utcWallTime('2026-01-01 00:15:00+01')).toBe('2025-12-31 23:15:00');
    expect(utcWallTime('2026-11-01 10:00:00Z')).toBe('2026-11-01 10:00:00');
    expect(utcWallTime('0099-03-01 00:00:00+01')).toBe('0099-02-28 23:00:00');
  });

  it('leaves what is not an instant with an offset as it is', () => {
    expect(utcWallTime('2026-11-01 10:00:00')).toBe('2026-11-01 10:00:00');
    expect(utcWallTime('infinity')).toBe('infinity');
    expect(utcWallTime(null)).toBeNull();
  });
});

describe('column types', () => {
  const field = (columnType: number, extra: Partial<MysqlField> = {}): MysqlField => ({
    name: 'c',
    columnType,
    decimals: 0,
    flags: 0,
    ...extra,
  });
  const describeAs = (f: MysqlField, tinyint1AsBoolean = false) =>
    describeMysqlColumn(f, { tinyint1AsBoolean });

  it('reads precision and scale of DECIMAL from the length, unsigned or not', () => {
    expect(describeAs(field(246, { columnLength: 14, decimals: 2 })).sqlType).toMatchObject({
      base: 'numeric',
      precision: 12,
      scale: 2,
      native: { dialect: 'mysql', type: 'decimal(12,2)' },
    });
    expect(describeAs(field(246, { columnLength: 5, flags: 32 })).sqlType).toMatchObject({
      precision: 5,
      scale: 0,
    });
  });

  it('widens unsigned integers, reads TINYINT(1) as boolean only when asked, TIMESTAMP as an instant', () => {
    expect(describeAs(field(3, { flags: 32 }))).toMatchObject({
      type: 'bigint',
      sqlType: { base: 'bigint' },
    });
    expect(describeAs(field(8, { flags: 32 })).sqlType).toMatchObject({ base: 'numeric', precision: 20 });
    expect(describeAs(field(1, { columnLength: 1 }), true)).toEqual({
      name: 'c',
      type: 'boolean',
      sqlType: { base: 'boolean' },
    });
    expect(describeAs(field(1, { columnLength: 1 })).sqlType).toMatchObject({
      base: 'smallint',
      native: { type: 'tinyint(1)' },
    });
    expect(describeAs(field(7, { decimals: 3 })).sqlType).toEqual({ base: 'timestamptz', precision: 3 });
    expect(describeAs(field(252, { extendedFormat: 'json' })).sqlType).toMatchObject({ base: 'jsonb' });
    expect(describeAs(field(252, { characterSet: 63 }))).toEqual({ name: 'c' });
  });

  it('maps portable types to MySQL declarations, keeping text where MySQL has no type that holds the data', () => {
    expect(mysqlTypeOfSql({ base: 'numeric', precision: 12, scale: 2 })).toBe('DECIMAL(12,2)');
    expect(mysqlTypeOfSql({ base: 'numeric', precision: 80, scale: 2 })).toBe('LONGTEXT');
    expect(mysqlTypeOfSql({ base: 'numeric' })).toBe('DECIMAL(65,30)');
    expect(mysqlTypeOfSql({ base: 'timestamptz', precision: 3 })).toBe('DATETIME(3)');
    expect(mysqlTypeOfSql({ base: 'timestamptz' })).toBe('DATETIME(6)');
    expect(mysqlTypeOfSql({ base: 'integer', array: true })).toBe('LONGTEXT');
    expect(mysqlTypeOfSql({ base: 'interval' })).toBe('LONGTEXT');
    expect(mysqlTypeOfSql({ base: 'jsonb' })).toBe('JSON');
    // A check that gives the column another type wins over the source's type.
    const column = { name: 'n', type: 'text' as const, sqlType: { base: 'integer' as const } };
    expect(mysqlColumnType(column, false)).toBe('LONGTEXT');
    expect(mysqlColumnType(column, true)).toBe('VARCHAR(255)');
  });
});
