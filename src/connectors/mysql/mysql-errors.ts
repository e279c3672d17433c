import { isSluiceError, SluiceError } from '../../core/errors.js';

/** Network failures: the server may answer on the next attempt. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/**
 * Server errors worth trying again: deadlock (1213), lock wait timeout (1205), server gone away (2006), lost
 * connection (2013), connection killed (1927, MariaDB), server shutting down (1053), too many connections
 * (1040). https://mariadb.com/kb/en/mariadb-error-code-reference/
 */
const RETRYABLE_ERRNOS = new Set([1213, 1205, 2006, 2013, 1927, 1053, 1040]);

/**
 * Errors that say a file's values or columns do not fit the table, not that the server or the statement is
 * wrong: bad or out-of-range values (1264, 1265, 1292, 1366, 1367, 1406, 1411), a null in a NOT NULL column
 * (1048), a duplicate key (1062), a foreign key (1452), a CHECK constraint (3819, MySQL; 4025, MariaDB),
 * invalid JSON (3140), and columns the table cannot have: too many (1117), rows too wide (1118), a name too
 * long (1059), repeated (1060) or not allowed (1166).
 * https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html
 */
const TARGET_ERRNOS = new Set([
  1048, 1062, 1264, 1265, 1292, 1366, 1367, 1406, 1411, 1452, 3140, 3819, 4025, 1117, 1118, 1059, 1060, 1166,
]);

interface MysqlDriverError {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  sqlMessage?: unknown;
  message?: unknown;
}

/**
 * Turns a mysql2 error into a SluiceError with a code and a retryable flag; SluiceErrors pass through.
 * `urlKey` is the configuration key of the URL, named in the hint when the server cannot be reached.
 */
export function classifyMysqlError(error: unknown, location: string, urlKey = 'load.url'): unknown {
  if (isSluiceError(error)) return error;
  const e = (error ?? {}) as MysqlDriverError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  if (code && UNREACHABLE_CODES.has(code)) {
    return new SluiceError('DATABASE_UNREACHABLE', `cannot reach MySQL at ${location} (${code})`, {
      retryable: true,
      cause: error,
      hint: `Check that the server runs and that ${urlKey} is right.`,
    });
  }
  if (errno !== undefined && errno > 0) {
    const text = typeof e.sqlMessage === 'string' ? e.sqlMessage : String(e.message ?? code);
    return new SluiceError(
      'DATABASE_ERROR',
      `MySQL at ${location} refused a statement: ${text} [${code ?? 'errno'} ${errno}]`,
      { retryable: RETRYABLE_ERRNOS.has(errno), cause: error },
    );
  }
  return error;
}

/** The mysql2 error code (`ER_DUP_ENTRY`) of a (wrapped) driver error. */
export function mysqlErrorCode(error: unknown): string | undefined {
  const inner = isSluiceError(error) ? error.cause : error;
  const code = (inner as MysqlDriverError | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The server's error number (1366) of a (wrapped) driver error. */
export function mysqlErrno(error: unknown): number | undefined {
  const inner = isSluiceError(error) ? error.cause : error;
  const errno = (inner as MysqlDriverError | undefined)?.errno;
  return typeof errno === 'number' ? errno : undefined;
}

/** The server's own message, without the location and code Sluice adds. */
export function mysqlMessage(error: unknown): string {
  const inner = isSluiceError(error) ? error.cause : error;
  const e = inner as MysqlDriverError | undefined;
  if (typeof e?.sqlMessage === 'string') return e.sqlMessage;
  return error instanceof Error ? error.message : String(error);
}

/** True for an error about the file's values or columns (see {@link TARGET_ERRNOS}), as opposed to the server. */
export function isMysqlTargetError(error: unknown): boolean {
  const errno = mysqlErrno(error);
  return errno !== undefined && TARGET_ERRNOS.has(errno);
}

/** The column a MySQL message names (`for column 'n'`, ``column `db`.`t`.`n` ``, `Column 'n' cannot be null`). */
export function mysqlErrorColumn(message: string): string | undefined {
  const m =
    /column [`'"]?(?:[^`'"]*[`'"]?\.[`'"]?)*([^`'".]+)[`'"]? at row/i.exec(message) ??
    /column '([^']+)'/i.exec(message) ??
    /column `(?:[^`]*`\.`)*([^`]+)`/i.exec(message);
  return m?.[1];
}
