import { isSluiceError, SluiceError } from '../../../core/errors.js';

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
 * connection (2013), connection killed (1927, MariaDB), server shutting down (1053).
 * https://mariadb.com/kb/en/mariadb-error-code-reference/
 */
const RETRYABLE_ERRNOS = new Set([1213, 1205, 2006, 2013, 1927, 1053]);

interface MysqlDriverError {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  sqlMessage?: unknown;
  message?: unknown;
}

/** Turns a mysql2 error into a SluiceError with a code and a retryable flag; SluiceErrors pass through. */
export function classifyMysqlError(error: unknown, location: string): unknown {
  if (isSluiceError(error)) return error;
  const e = (error ?? {}) as MysqlDriverError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  if (code && UNREACHABLE_CODES.has(code)) {
    return new SluiceError('DATABASE_UNREACHABLE', `cannot reach MySQL at ${location} (${code})`, {
      retryable: true,
      cause: error,
      hint: 'Check that the server runs and that load.url is right.',
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
