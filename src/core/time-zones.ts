/**
 * Local wall-clock times in an IANA time zone turned into instants, with one documented rule for the two
 * hours a year that are not one-to-one:
 * - a time in a DST gap (spring forward: 02:30 in Madrid on the last Sunday of March does not exist) is
 *   moved forward by the length of the gap (02:30 → 03:30 CEST, 01:30 UTC), as RFC 5545 and Temporal's
 *   `compatible` rule do;
 * - a time in a DST repeat (fall back: 02:30 happens twice) is the earlier of the two instants (CEST),
 *   unless `repeated: 'later'` is asked, or `'reject'` refuses it.
 */
export type RepeatedRule = 'earlier' | 'later' | 'reject';

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** True when `zone` is an IANA time zone this Node knows. */
export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at an instant, in milliseconds (CEST: +7 200 000). */
export function offsetAt(zone: string, instant: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(instant)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  );
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant a wall-clock time in `zone` names, by the rule above; `{ repeated: true }` or `{ gap: true }`
 * says when the rule decided. Undefined only for a repeated time under `'reject'`.
 */
export function instantInZone(
  zone: string,
  local: WallClock,
  repeated: RepeatedRule = 'earlier',
): { instant: number; gap?: boolean; repeated?: boolean } | undefined {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  // Offsets half a day either side cover any transition near this time.
  const before = offsetAt(zone, wall - 43_200_000);
  const after = offsetAt(zone, wall + 43_200_000);
  const candidates = [...new Set([wall - before, wall - after])].filter(
    (t) => t + offsetAt(zone, t) === wall,
  );
  if (candidates.length === 1) return { instant: candidates[0]! };
  if (candidates.length === 2) {
    if (repeated === 'reject') return undefined;
    const [a, b] = candidates.sort((x, y) => x - y) as [number, number];
    return { instant: repeated === 'later' ? b : a, repeated: true };
  }
  // In the gap: read with the offset in force before it, which lands after the gap by its length.
  return { instant: wall - before, gap: true };
}
