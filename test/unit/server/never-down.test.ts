import { describe, expect, it } from 'vitest';
import { NeverDown } from '../../../src/server/metrics.js';

const alpha = { pipeline: 'alpha' };
const beta = { pipeline: 'beta' };

describe('NeverDown', () => {
  it('passes totals through while they grow', () => {
    const counter = new NeverDown();
    expect(counter.values([{ labels: alpha, value: 3 }])).toEqual([{ labels: alpha, value: 3 }]);
    expect(counter.values([{ labels: alpha, value: 5 }])).toEqual([{ labels: alpha, value: 5 }]);
  });

  it('keeps what was purged and counts on from there', () => {
    const counter = new NeverDown();
    counter.values([{ labels: alpha, value: 10 }]);
    // Maintenance removed 8 old runs: the total read falls to 2.
    expect(counter.values([{ labels: alpha, value: 2 }])).toEqual([{ labels: alpha, value: 10 }]);
    // Three new runs.
    expect(counter.values([{ labels: alpha, value: 5 }])).toEqual([{ labels: alpha, value: 13 }]);
  });

  it('keeps a series whose runs were all purged, and counts on when it comes back', () => {
    const counter = new NeverDown();
    counter.values([
      { labels: alpha, value: 4 },
      { labels: beta, value: 7 },
    ]);
    expect(counter.values([{ labels: alpha, value: 4 }])).toEqual([
      { labels: alpha, value: 4 },
      { labels: beta, value: 7 },
    ]);
    expect(counter.values([{ labels: beta, value: 1 }])).toEqual([
      { labels: beta, value: 8 },
      { labels: alpha, value: 4 },
    ]);
  });
});
