import { isSluiceError, SluiceError } from '../core/errors.js';

/** Why a run stopped: its maximum run time, a request to stop, or whoever aborted it. */
export function abortError(signal: AbortSignal): SluiceError {
  const reason: unknown = signal.reason;
  return isSluiceError(reason) ? reason : new SluiceError('ABORTED', 'the run was stopped');
}

/** The error to report for a failure: once the run was aborted, the abort's reason says more. */
export function failureOf(error: unknown, signal: AbortSignal): unknown {
  return signal.aborted ? abortError(signal) : error;
}
