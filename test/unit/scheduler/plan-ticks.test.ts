import { describe, expect, it } from 'vitest';
import { cronOf } from '../../../src/scheduler/schedule-spec.js';
import { planTicks } from '../../../src/scheduler/scheduler.js';

const LATE = 60_000;
const daily = (catchUp: 'skip' | 'once', lastFireAt: string | null, updatedAt = '2026-01-01T00:00:00Z') => ({
  cron: '0 6 * * *',
  timezone: 'Europe/Madrid',
  catchUp,
  lastFireAt,
  updatedAt,
});

describe('planTicks', () => {
  it('fires a tick that just came, once: the next pass finds nothing new', () => {
    const now = new Date('2026-11-30T05:00:00.400Z'); // 06:00 in Madrid (CET)
    expect(planTicks(daily('skip', '2026-11-29T05:00:00Z'), now, LATE)).toEqual({
      fire: new Date('2026-11-30T05:00:00Z'),
    });
    expect(planTicks(daily('skip', '2026-11-30T05:00:00Z'), now, LATE)).toEqual({});
  });

  it('after downtime over several ticks: skip records the latest as skipped, once fires it once', () => {
    const now = new Date('2026-11-30T09:00:00Z');
    expect(planTicks(daily('skip', '2026-11-27T05:00:00Z'), now, LATE)).toEqual({
      skip: new Date('2026-11-30T05:00:00Z'),
    });
    expect(planTicks(daily('once', '2026-11-27T05:00:00Z'), now, LATE)).toEqual({
      fire: new Date('2026-11-30T05:00:00Z'),
    });
  });

  it('counts from a change of the schedule, not from its last tick before the change', () => {
    const now = new Date('2026-11-30T09:00:00Z');
    expect(planTicks(daily('once', '2026-11-20T05:00:00Z', '2026-11-30T08:00:00Z'), now, LATE)).toEqual({});
  });

  it('follows the time zone across DST: a gap fires once after it, a repeated hour once', () => {
    const at230 = { cron: '30 2 * * *', timezone: 'Europe/Madrid' };
    // 2026-03-29 02:30 does not exist in Madrid: the tick comes at 03:00 CEST, once that day.
    const spring = cronOf(at230).nextRuns(3, new Date('2026-03-28T12:00:00Z'));
    expect(spring.map((d) => d.toISOString())).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ]);
    // 2026-10-25 02:30 happens twice in Madrid: the daily tick fires at the first, once.
    const autumn = cronOf(at230).nextRuns(2, new Date('2026-10-24T12:00:00Z'));
    expect(autumn.map((d) => d.toISOString())).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
    // Planned as the scheduler would, pass after pass across that night: one fire.
    let last = '2026-10-24T00:30:00Z';
    const fired: string[] = [];
    for (let t = Date.parse('2026-10-24T23:00:00Z'); t < Date.parse('2026-10-25T04:00:00Z'); t += 60_000) {
      const plan = planTicks(
        { ...at230, catchUp: 'skip', lastFireAt: last, updatedAt: '2026-01-01T00:00:00Z' },
        new Date(t),
        LATE,
      );
      if (plan.fire) {
        fired.push(plan.fire.toISOString());
        last = plan.fire.toISOString();
      }
    }
    expect(fired).toEqual(['2026-10-25T00:30:00.000Z']);
  });

  it('reads seconds when the expression has six fields', () => {
    const plan = planTicks(
      {
        cron: '*/2 * * * * *',
        timezone: 'UTC',
        catchUp: 'skip',
        lastFireAt: '2026-11-30T10:00:00Z',
        updatedAt: '2026-11-30T09:00:00Z',
      },
      new Date('2026-11-30T10:00:02.010Z'),
      LATE,
    );
    expect(plan).toEqual({ fire: new Date('2026-11-30T10:00:02Z') });
  });
});
