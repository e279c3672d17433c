import type { Column, ColumnType, SqlType } from '../../core/records.js';
import { columnTypeOfSql, sqlTypeFits } from '../../core/records.js';

/**
 * MySQL types for the types checks give. `text` is LONGTEXT (unbounded like PostgreSQL's text) except in a
 * key, which must be indexable: VARCHAR(255) there (255 × 4 bytes of utf8mb4 fits InnoDB's 3072-byte key).
 * `numeric` keeps 35 integer and 30 decimal digits, the widest DECIMAL there is.
 */
const MYSQL_TYPES: Record<ColumnType, string> = {
  text: 'LONGTEXT',
  integer: 'INT',
  bigint: 'BIGINT',
  numeric: 'DECIMAL(65,30)',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'DATETIME(6)',
  json: 'JSON',
};

// https://dev.mysql.com/doc/refman/8.0/en/fixed-point-types.html
const MAX_DECIMAL_PRECISION = 65;
const MAX_DECIMAL_SCALE = 30;

/**
 * The MySQL declaration of a portable type. MySQL has no type for an instant that covers every date
 * (TIMESTAMP ends in 2038), so `timestamptz` becomes DATETIME holding UTC; intervals, arrays, and numbers
 * wider than DECIMAL(65,30) stay text so that nothing is lost.
 */
export function mysqlTypeOfSql(type: SqlType): string {
  if (type.array) return 'LONGTEXT';
  const fraction = (name: string) => `${name}(${Math.min(type.precision ?? 6, 6)})`;
  switch (type.base) {
    case 'boolean':
      return 'BOOLEAN';
    case 'smallint':
      return 'SMALLINT';
    case 'integer':
      return 'INT';
    case 'bigint':
      return 'BIGINT';
    case 'numeric':
      if (type.precision === undefined) return MYSQL_TYPES.numeric;
      return type.precision <= MAX_DECIMAL_PRECISION && (type.scale ?? 0) <= MAX_DECIMAL_SCALE
        ? `DECIMAL(${type.precision},${type.scale ?? 0})`
        : 'LONGTEXT';
    case 'real':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'date':
      return 'DATE';
    case 'time':
      return fraction('TIME');
    case 'timestamp':
    case 'timestamptz':
      return fraction('DATETIME');
    case 'json':
    case 'jsonb':
      return 'JSON';
    case 'uuid':
      return 'CHAR(36)';
    case 'text':
    case 'interval':
      return 'LONGTEXT';
  }
}

/**
 * The type a new column gets: the source's own declaration when the source is MySQL too, else the mapping of
 * its portable type, else the type the checks gave. Text in a key is VARCHAR(255) (an index needs a bound).
 */
export function mysqlColumnType(column: Column, isKey: boolean): string {
  const sql = sqlTypeFits(column);
  const type =
    sql?.native?.dialect === 'mysql'
      ? sql.native.type
      : sql
        ? mysqlTypeOfSql(sql)
        : MYSQL_TYPES[column.type ?? 'text'];
  return isKey && type === 'LONGTEXT' ? 'VARCHAR(255)' : type;
}

// mysql2's column type codes: https://dev.mysql.com/doc/dev/mysql-server/latest/field__types_8h.html
const TINY = 1;
const SHORT = 2;
const LONG = 3;
const FLOAT = 4;
const DOUBLE = 5;
const TIMESTAMP = 7;
const LONGLONG = 8;
const INT24 = 9;
const DATE = 10;
const TIME = 11;
const DATETIME = 12;
const YEAR = 13;
const NEWDATE = 14;
const VARCHAR = 15;
const JSON_CODE = 245;
const DECIMAL = 0;
const NEWDECIMAL = 246;
const BLOB = 252;
const VAR_STRING = 253;
const STRING = 254;
const UNSIGNED_FLAG = 32;
const BINARY_CHARSET = 63;

/** What mysql2 says of a result column. */
export interface MysqlField {
  name: string;
  columnType?: number;
  columnLength?: number;
  decimals: number;
  flags: number | string[];
  characterSet?: number;
  /** MariaDB's extended metadata: `json` for a JSON column. */
  extendedFormat?: string;
  /** MariaDB's extended metadata: `uuid`, `inet6`… */
  extendedTypeName?: string;
}

/** The codes of the date and time types (what a lookback can compare). */
export const MYSQL_DATE_CODES: ReadonlySet<number> = new Set([DATE, NEWDATE, DATETIME, TIMESTAMP]);

/** True for a TIMESTAMP column, whose values are instants (read in UTC, given with `+00`). */
export function isMysqlTimestamp(field: MysqlField): boolean {
  return field.columnType === TIMESTAMP;
}

/** True for a TINYINT(1) column, MySQL's spelling of a boolean. */
export function isMysqlTinyintOne(field: MysqlField): boolean {
  return field.columnType === TINY && field.columnLength === 1;
}

/**
 * A result column with its type in detail: the portable type and, where the metadata gives it exactly, the
 * MySQL declaration. `tinyint1AsBoolean` reads TINYINT(1) as a boolean. Text types carry no native type (their
 * length is in bytes of the connection's character set): they are text. Binary, BIT and spatial columns get no
 * type.
 */
export function describeMysqlColumn(field: MysqlField, options: { tinyint1AsBoolean: boolean }): Column {
  const type = sqlTypeOf(field, options);
  return type ? { name: field.name, type: columnTypeOfSql(type), sqlType: type } : { name: field.name };
}

function sqlTypeOf(f: MysqlField, options: { tinyint1AsBoolean: boolean }): SqlType | undefined {
  const flags = typeof f.flags === 'number' ? f.flags : 0;
  const unsigned = (flags & UNSIGNED_FLAG) !== 0 || (Array.isArray(f.flags) && f.flags.includes('UNSIGNED'));
  const u = unsigned ? ' unsigned' : '';
  const mysql = (type: string) => ({ dialect: 'mysql' as const, type });
  const length = f.columnLength ?? 0;
  switch (f.columnType) {
    case TINY:
      if (length === 1 && options.tinyint1AsBoolean) return { base: 'boolean' };
      return { base: 'smallint', native: mysql(`tinyint${length === 1 ? '(1)' : ''}${u}`) };
    case SHORT:
      return { base: unsigned ? 'integer' : 'smallint', native: mysql(`smallint${u}`) };
    case INT24:
      return { base: 'integer', native: mysql(`mediumint${u}`) };
    case LONG:
      return { base: unsigned ? 'bigint' : 'integer', native: mysql(`int${u}`) };
    case LONGLONG:
      return unsigned
        ? { base: 'numeric', precision: 20, scale: 0, native: mysql('bigint unsigned') }
        : { base: 'bigint', native: mysql('bigint') };
    case DECIMAL:
    case NEWDECIMAL: {
      // The length counts the digits, the point and the sign: my_decimal_length_to_precision in MySQL.
      const scale = f.decimals;
      const precision = length - (scale > 0 ? 1 : 0) - (unsigned ? 0 : 1);
      return { base: 'numeric', precision, scale, native: mysql(`decimal(${precision},${scale})${u}`) };
    }
    case FLOAT:
      return { base: 'real', native: mysql('float') };
    case DOUBLE:
      return { base: 'double', native: mysql('double') };
    case DATE:
    case NEWDATE:
      return { base: 'date', native: mysql('date') };
    case DATETIME:
      return { base: 'timestamp', precision: f.decimals, native: mysql(`datetime(${f.decimals})`) };
    case TIMESTAMP:
      // No native type: a TIMESTAMP target would read the UTC values in the session's time zone.
      return { base: 'timestamptz', precision: f.decimals };
    case TIME:
      // MySQL's TIME is a duration as much as a time of day (-838:59:59 to 838:59:59).
      return { base: 'interval', native: mysql(`time(${f.decimals})`) };
    case YEAR:
      return { base: 'smallint', native: mysql('year') };
    case JSON_CODE:
      return { base: 'jsonb', native: mysql('json') };
    case VARCHAR:
    case VAR_STRING:
    case STRING:
    case BLOB:
      if (f.extendedFormat === 'json') return { base: 'jsonb', native: mysql('json') };
      if (f.extendedTypeName === 'uuid') return { base: 'uuid', native: mysql('uuid') };
      if (f.characterSet === BINARY_CHARSET) return undefined;
      return { base: 'text' };
    default:
      return undefined;
  }
}
