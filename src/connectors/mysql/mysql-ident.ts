import { SluiceError } from '../../core/errors.js';
import type { IdentifierRules, TableName } from '../../core/sql.js';

/**
 * Quotes an identifier for MySQL/MariaDB with backticks: every identifier Sluice writes to MySQL goes through
 * here. Names from files are checked before (see {@link MYSQL_IDENTIFIERS}); this is the last guard.
 */
export function quoteMysqlIdent(name: string): string {
  if (name.length === 0) throw new SluiceError('TARGET_MISMATCH', 'an SQL identifier cannot be empty');
  if (name.includes('\u0000'))
    throw new SluiceError('TARGET_MISMATCH', 'an SQL identifier cannot contain a NUL character');
  return `\`${name.replaceAll('`', '``')}\``;
}

/** `` `db`.`table` `` or `` `table` `` (a MySQL database plays the part of a PostgreSQL schema). */
export function quoteMysqlTable(table: TableName): string {
  return table.schema
    ? `${quoteMysqlIdent(table.schema)}.${quoteMysqlIdent(table.name)}`
    : quoteMysqlIdent(table.name);
}

/** MySQL's limit on identifier length, in characters: https://dev.mysql.com/doc/refman/8.0/en/identifier-length.html */
export const MYSQL_MAX_IDENTIFIER_LENGTH = 64;

/** InnoDB's limit on the columns of a table: https://dev.mysql.com/doc/refman/8.0/en/column-count-limit.html */
export const MYSQL_MAX_COLUMNS = 1017;

/**
 * How MySQL names columns: at most 64 characters; column names compare ignoring case and accents, so `Name`
 * and `name` are one column; a quoted name may hold any character of the Basic Multilingual Plane but U+0000
 * and may not end with a space. https://dev.mysql.com/doc/refman/8.0/en/identifiers.html
 */
export const MYSQL_IDENTIFIERS: IdentifierRules = {
  label: 'MySQL',
  maxLength: MYSQL_MAX_IDENTIFIER_LENGTH,
  unit: 'characters',
  fold: (name) => name.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase(),
  tidy: { apply: (name) => name.replace(/ +$/, ''), why: 'MySQL column names cannot end with a space' },
  problem: (name) =>
    /[\u{10000}-\u{10FFFF}]/u.test(name)
      ? 'MySQL column names cannot hold characters beyond U+FFFF (such as emoji)'
      : undefined,
};
