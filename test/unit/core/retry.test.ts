import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../src/core/errors.js';
import { backoffDelay, withRetry } from '../../../src/core/retry.js';

const policy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 4 };

describe('withRetry', () => {
  it('retries retryable errors until the attempts run out', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new SluiceError('SOURCE_UNREACHABLE', 'down', { retryable: true });
        },
        { policy },
      ),
    ).rejects.toThrow('down');
    expect(calls).toBe(3);
  });

  it('gives up at once on a permanent error and returns the first success', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new SluiceError('LAYOUT_MISMATCH', 'bad');
        },
        { policy },
      ),
    ).rejects.toThrow('bad');
    expect(calls).toBe(1);
    let n = 0;
    expect(
      await withRetry(
        async () => {
          if (++n < 2) throw new SluiceError('DATABASE_UNREACHABLE', 'x', { retryable: true });
          return 'ok';
        },
        { policy },
      ),
    ).toBe('ok');
  });

  it('backs off exponentially with jitter, capped', () => {
    const p = { attempts: 5, baseDelayMs: 100, maxDelayMs: 300 };
    expect(backoffDelay(1, p, () => 1)).toBe(100);
    expect(backoffDelay(2, p, () => 1)).toBe(200);
    expect(backoffDelay(3, p, () => 1)).toBe(300);
    expect(backoffDelay(3, p, () => 0.5)).toBe(150);
  });
});
