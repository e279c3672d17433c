import { describe, expect, it } from 'vitest';
import { instantInZone } from '../../../src/core/time-zones.js';

const at = (text: string) => {
  const [d, t] = text.split(' ') as [string, string];
  const [year, month, day] = d.split('-').map(Number) as [number, number, number];
  const [hour, minute, second] = t.split(':').map(Number) as [number, number, number];
  return { year, month, day, hour, minute, second };
};
const iso = (r: { instant: number } | undefined) => (r ? new Date(r.instant).toISOString() : undefined);

describe('wall-clock times in a time zone', () => {
  it('reads ordinary times with the offset in force', () => {
    expect(iso(instantInZone('Europe/Madrid', at('2026-01-15 10:00:00')))).toBe('2026-01-15T09:00:00.000Z');
    expect(iso(instantInZone('Europe/Madrid', at('2026-07-15 10:00:00')))).toBe('2026-07-15T08:00:00.000Z');
    expect(iso(instantInZone('America/Argentina/Buenos_Aires', at('2026-01-01 00:30:00')))).toBe(
      '2026-01-01T03:30:00.000Z',
    );
  });

  it('moves a time in the spring gap forward by the gap', () => {
    const r = instantInZone('Europe/Madrid', at('2026-03-29 02:30:00'));
    expect(r).toMatchObject({ gap: true });
    expect(iso(r)).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST
  });

  it('takes the earlier of a repeated autumn time unless told otherwise', () => {
    const earlier = instantInZone('Europe/Madrid', at('2026-10-25 02:30:00'));
    expect(earlier).toMatchObject({ repeated: true });
    expect(iso(earlier)).toBe('2026-10-25T00:30:00.000Z'); // 02:30 CEST
    expect(iso(instantInZone('Europe/Madrid', at('2026-10-25 02:30:00'), 'later'))).toBe(
      '2026-10-25T01:30:00.000Z',
    );
    expect(instantInZone('Europe/Madrid', at('2026-10-25 02:30:00'), 'reject')).toBeUndefined();
  });
});
