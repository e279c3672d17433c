import type { TableName } from '../../../core/sql.js';

/** Quotes an identifier for MySQL/MariaDB with backticks: every identifier this loader writes goes here. */
export function quoteMysqlIdent(name: string): string {
  if (name.length === 0) throw new Error('an SQL identifier cannot be empty');
  if (name.includes('\u0000')) throw new Error('an SQL identifier cannot contain a NUL character');
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
