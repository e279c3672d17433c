/**
 * One error type for everything Sluice reports. `code` comes from {@link ERROR_CODES}; `retryable` says
 * whether trying the same thing again may succeed; `where` names the file, line, column or config path.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'the pipeline or project configuration is invalid',
  CONFIG_NOT_FOUND: 'a configuration file does not exist',
  ENV_MISSING: 'an environment variable the configuration needs is not set',
  PLUGIN_UNKNOWN: 'no plugin of that name exists',
  SOURCE_UNREACHABLE: 'the source could not be reached',
  SOURCE_AUTH: 'the source refused the credentials or its host key is not trusted',
  SOURCE_IO: 'reading from or acting on the source failed',
  LAYOUT_MISMATCH: 'a file does not have the expected layout',
  PARSE_FAILED: 'a file could not be parsed',
  FILE_EMPTY: 'a file (or the sheet read) holds nothing: not even a header',
  TARGET_MISMATCH:
    "a file's columns or values cannot go into the target (too many columns, names that collide)",
  DATABASE_UNREACHABLE: 'the database could not be reached',
  DATABASE_ERROR: 'the database rejected a statement',
  DATABASE_LOCKED: 'the embedded database is in use by another process',
  DATABASE_BUSY: 'no database connection came free in time',
  PIPELINE_RUNNING: 'the pipeline is already running',
  LOAD_FAILED: 'loading rows into the target failed',
  ARCHIVE_FAILED: 'archiving loaded files failed',
  NOTIFY_FAILED: 'a notice (e-mail or webhook) could not be sent',
  TASK_FAILED: 'a task (a command, a backup, a clean-up) failed or exceeded its time limit',
  ABORTED: 'the run was aborted',
  STOPPED: 'the run was stopped on request (Ctrl-C, SIGTERM, a shutdown)',
  INTERNAL: 'an unexpected error',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Where the problem is: a file, `file:line:column`, or a config path. */
  where?: string;
  /** What the user can do about it. */
  hint?: string;
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly where: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.where = options.where;
    this.hint = options.hint;
  }
}

/** True for a {@link SluiceError}, optionally of one of the given codes. */
export function isSluiceError(error: unknown, ...codes: ErrorCode[]): error is SluiceError {
  return error instanceof SluiceError && (codes.length === 0 || codes.includes(error.code));
}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** One paragraph for a person: where, what, and what to do. */
export function describeError(error: unknown): string {
  if (!(error instanceof SluiceError)) return `Unexpected error: ${errorMessage(error)}`;
  const where = error.where ? `${error.where}: ` : '';
  const hint = error.hint ? `\n${error.hint}` : '';
  return `${where}${error.message}${hint}`;
}
