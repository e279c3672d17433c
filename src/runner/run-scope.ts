import type { PluginContext } from '../core/plugin.js';
import type { RetryPolicy } from '../core/retry.js';
import type { PipelineSpec } from '../core/spec.js';
import type { SqlClient } from '../core/sql.js';
import { errorMessage } from '../core/errors.js';
import type { StateSnapshot } from '../store/state.js';
import type { StepLog } from '../store/step-log.js';

/** Runs `work` in one transaction of the run: its own, or a savepoint of the dry run's one transaction. */
export type InTransaction = <T>(work: (tx: SqlClient) => Promise<T>) => Promise<T>;

/** What the parts of one run share. */
export interface RunScope {
  spec: PipelineSpec;
  runId: string;
  asOf: string;
  /** The claim every commit checks (null in a dry run, which claims nothing). */
  claimer: string | null;
  dryRun: boolean;
  /** For statements outside the units' transactions (the dry run's transaction in a dry run). */
  db: SqlClient;
  inTransaction: InTransaction;
  context: PluginContext;
  log: StepLog;
  state: StateSnapshot;
  /** Adds the time `work` takes to the step's timing. */
  time<T>(step: string, work: () => Promise<T>): Promise<T>;
  /** Retry options for `withRetry`, logging each retry and stopping when the run is aborted. */
  retry(what: string): {
    policy: RetryPolicy;
    signal: AbortSignal;
    onRetry: (error: unknown, attempt: number, delayMs: number) => void;
  };
}

export function retryOptions(log: StepLog, policy: RetryPolicy, signal: AbortSignal) {
  return (what: string) => ({
    policy,
    signal,
    onRetry: (error: unknown, attempt: number, delayMs: number) =>
      log.warn(`${what} failed (attempt ${attempt}), retrying in ${delayMs} ms: ${errorMessage(error)}`),
  });
}
