import { SluiceError } from './errors.js';

/**
 * Waits `ms`; when `signal` aborts first, rejects at once with its reason (a SluiceError), or ABORTED.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const stopped = () =>
      reject(
        signal?.reason instanceof SluiceError
          ? signal.reason
          : new SluiceError('ABORTED', 'the run was stopped'),
      );
    if (signal?.aborted) return stopped();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      stopped();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
