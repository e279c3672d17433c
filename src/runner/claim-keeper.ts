import type { SqlClient } from '../core/sql.js';
import { claimLost, renewClaim } from '../store/run-claims.js';

/**
 * Renews a run's claim every `everyMs` so that other processes see it alive; a claim taken over meanwhile
 * aborts `abort` (this attempt stops). Returns the function that stops renewing.
 */
export function keepClaim(
  db: SqlClient,
  runId: string,
  claimer: string,
  everyMs: number,
  abort: AbortController,
): () => void {
  const beat = setInterval(() => {
    renewClaim(db, runId, claimer).then(
      (held) => {
        if (!held) abort.abort(claimLost(runId));
      },
      () => undefined, // a missed beat is tried again at the next one
    );
  }, everyMs);
  return () => clearInterval(beat);
}

/**
 * Aborts `abort` when `signal` aborts (at once when it already has), with its reason. Returns the function
 * that stops following it.
 */
export function followSignal(signal: AbortSignal | undefined, abort: AbortController): () => void {
  if (!signal) return () => undefined;
  const stop = () => abort.abort(signal.reason);
  if (signal.aborted) stop();
  signal.addEventListener('abort', stop, { once: true });
  return () => signal.removeEventListener('abort', stop);
}
