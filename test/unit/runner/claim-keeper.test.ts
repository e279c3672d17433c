import { describe, expect, it } from 'vitest';
import { followSignal } from '../../../src/runner/claim-keeper.js';

describe('followSignal', () => {
  it('aborts at once, with the reason, when the signal has already aborted', () => {
    const outside = new AbortController();
    outside.abort(new Error('stop now'));
    const run = new AbortController();
    followSignal(outside.signal, run);
    expect(run.signal.aborted).toBe(true);
    expect((run.signal.reason as Error).message).toBe('stop now');
  });

  it('aborts when the signal aborts later, and no more once it stopped following', () => {
    const first = new AbortController();
    const run = new AbortController();
    followSignal(first.signal, run);
    expect(run.signal.aborted).toBe(false);
    first.abort('Ctrl-C');
    expect(run.signal.reason).toBe('Ctrl-C');

    const second = new AbortController();
    const other = new AbortController();
    const stop = followSignal(second.signal, other);
    stop();
    second.abort('late');
    expect(other.signal.aborted).toBe(false);
  });

  it('follows nothing without a signal', () => {
    const run = new AbortController();
    followSignal(undefined, run)();
    expect(run.signal.aborted).toBe(false);
  });
});
