import { isSluiceError, SluiceError } from './errors.js';

/** SQLSTATEs worth trying again: serialization failure, deadlock, and the connection classes. */
const RETRYABLE_STATES = new Set([
  '40001',
  '40P01',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
]);

/** Turns a driver error into a SluiceError with a code and a retryable flag; SluiceErrors pass through. */
export function classifyDatabaseError(error: unknown, location: string): unknown {
  if (isSluiceError(error)) return error;
  const e = error as { code?: string; message?: string; detail?: string; where?: string; position?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && UNREACHABLE_CODES.has(code)) {
    return new SluiceError('DATABASE_UNREACHABLE', `cannot reach the database at ${location} (${code})`, {
      retryable: true,
      cause: error,
      hint: 'Check that the server runs and that DATABASE_URL is right.',
    });
  }
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    const detail = e.detail ? ` (${e.detail})` : '';
    return new SluiceError(
      'DATABASE_ERROR',
      `the database refused a statement: ${e.message ?? code}${detail} [SQLSTATE ${code}]`,
      {
        retryable: RETRYABLE_STATES.has(code),
        cause: error,
      },
    );
  }
  if (error instanceof Error && /Connection terminated|connection.*closed/i.test(error.message)) {
    return new SluiceError('DATABASE_UNREACHABLE', `lost the connection to ${location}: ${error.message}`, {
      retryable: true,
      cause: error,
    });
  }
  return error;
}

/** The SQLSTATE of a (wrapped) database error. */
export function sqlState(error: unknown): string | undefined {
  const inner = error instanceof SluiceError ? error.cause : error;
  const code = (inner as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A COPY error's context names its row: `COPY t, line 3, column n: "x"` (line 1 = the first row copied). */
const COPY_LINE = /COPY [^,]+, line (\d+)(?:, column ([^:]+))?/;

/** The row (1 = first row copied) and column a COPY error's context names, when it does. */
export function copyErrorPosition(where: string | undefined): { row?: number; column?: string } {
  const m = COPY_LINE.exec(where ?? '');
  if (!m) return {};
  return { row: Number(m[1]), ...(m[2] ? { column: m[2] } : {}) };
}

/**
 * A COPY error of a statement that started after `rowsBefore` rows of the same load (a later slice of
 * PGlite's COPY): its context's line is made to count from the load's first row. Returns the same error.
 */
export function shiftCopyLine(error: unknown, rowsBefore: number): unknown {
  const inner = (error instanceof SluiceError ? error.cause : error) as { where?: unknown } | undefined;
  if (rowsBefore > 0 && inner && typeof inner.where === 'string') {
    // The table's name holds no comma (COPY_LINE), so the first ", line N" of the match is the row.
    inner.where = inner.where.replace(COPY_LINE, (context, line: string) =>
      context.replace(`, line ${line}`, `, line ${Number(line) + rowsBefore}`),
    );
  }
  return error;
}
