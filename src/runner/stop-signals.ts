import { SluiceError } from '../core/errors.js';

/** Exit code of a process stopped by a signal, as shells report it (128 + the signal's number). */
export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Turns the first SIGINT or SIGTERM into a request to stop: `signal` aborts with a STOPPED error, runs
 * roll back what did not commit, record that they stopped and release their claims. A second signal
 * exits at once (what committed stays committed; the next run resumes). `dispose` removes the handlers.
 */
export function stopOnSignals(
  options: {
    onStopping?: (name: NodeJS.Signals) => void;
    onExitNow?: (name: NodeJS.Signals) => void;
  } = {},
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      controller.abort(new SluiceError('STOPPED', `stopped by ${name}`));
      options.onStopping?.(name);
      return;
    }
    options.onExitNow?.(name);
    process.exit(SIGNAL_EXIT[name as keyof typeof SIGNAL_EXIT] ?? 1);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
