import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../src/core/errors.js';
import { classifyMysqlError } from '../../../src/connectors/mysql/mysql-errors.js';
import { quoteMysqlIdent } from '../../../src/connectors/mysql/mysql-ident.js';

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
