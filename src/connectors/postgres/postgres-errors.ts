import { sqlState } from '../../core/database-errors.js';
import { isSluiceError } from '../../core/errors.js';

/**
 * SQLSTATEs that say a file's values or columns do not fit the table, not that the database or the statement
 * is wrong: data exceptions (class 22: a value that is not of the column's type, out of range, too long),
 * integrity constraints (class 23: NOT NULL, a key already there, a foreign key, a CHECK), too many columns
 * (54011), a column named twice (42701), and a column whose type cannot change to the one the data needs
 * (42804). https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export function isPostgresTargetError(error: unknown): boolean {
  const state = sqlState(error);
  if (!state) return false;
  return state.startsWith('22') || state.startsWith('23') || ['54011', '42701', '42804'].includes(state);
}

/** What PostgreSQL said, field by field (a `pg` or PGlite error, possibly wrapped in a SluiceError). */
export interface PostgresErrorFields {
  message: string;
  detail?: string;
  /** The column of a NOT NULL violation. */
  column?: string;
  /** Context: `COPY t, line 3, column n: "x"`. */
  where?: string;
}

export function postgresErrorFields(error: unknown): PostgresErrorFields {
  const inner = (isSluiceError(error) ? error.cause : error) as
    { message?: unknown; detail?: unknown; column?: unknown; where?: unknown } | undefined;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const message = text(inner?.message) ?? (error instanceof Error ? error.message : String(error));
  const detail = text(inner?.detail);
  const column = text(inner?.column);
  const where = text(inner?.where);
  return {
    message,
    ...(detail ? { detail } : {}),
    ...(column ? { column } : {}),
    ...(where ? { where } : {}),
  };
}
