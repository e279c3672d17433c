import { describeError, errorMessage, isSluiceError, SluiceError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import type { RunSummary } from '../core/run-summary.js';

/** Why a run stopped: its maximum run time, a request to stop, or whoever aborted it. */
export function abortError(signal: AbortSignal): SluiceError {
  const reason: unknown = signal.reason;
  return isSluiceError(reason) ? reason : new SluiceError('ABORTED', 'the run was stopped');
}

/** The error to report for a failure: once the run was aborted, the abort's reason says more. */
export function failureOf(error: unknown, signal: AbortSignal): unknown {
  return signal.aborted ? abortError(signal) : error;
}

/**
 * Records how a run (or a task) ended early in its summary, `stopped` when the abort caused it, and logs it
 * once: a stop as a warning, an expected error with its code, an unexpected one with its stack (for the
 * log, never for the user).
 */
export function recordFailure(
  summary: Pick<RunSummary, 'status' | 'error'>,
  error: unknown,
  signal: AbortSignal,
  log: Logger,
  what: 'run' | 'task',
): void {
  const failure = failureOf(error, signal);
  const stopped = isSluiceError(failure, 'STOPPED');
  summary.status = stopped ? 'stopped' : 'failed';
  summary.error = {
    code: isSluiceError(failure) ? failure.code : 'INTERNAL',
    message: describeError(failure),
  };
  if (stopped) log.warn(`${what} stopped: ${describeError(failure)}`);
  else
    log.error(
      `${what} failed: ${describeError(failure)}`,
      isSluiceError(failure)
        ? { code: failure.code }
        : { stack: (failure as Error)?.stack ?? errorMessage(failure) },
    );
}
