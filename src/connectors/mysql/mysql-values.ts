import type { Value } from '../../core/records.js';

const INSTANT =
  /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?(?:(Z)|([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$/;

/**
 * An instant as DATETIME text in UTC: `2026-11-01 10:00:00+02` becomes `2026-11-01 08:00:00` (the fraction is
 * kept as written). MySQL reads no offsets in DATETIME values, and its TIMESTAMP ends in 2038. A value that
 * is not an instant with an offset is returned as it is (MySQL then takes it or refuses it).
 */
export function utcWallTime(value: Value): Value {
  if (typeof value !== 'string') return value;
  const m = INSTANT.exec(value);
  if (!m) return value;
  const [, y, mo, d, h, mi, s, fraction = '', zulu, sign, oh = '0', om = '0', os = '0'] = m;
  const offset =
    zulu || !sign ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60 + Number(os));
  if (offset === 0) return `${y}-${mo}-${d} ${h}:${mi}:${s}${fraction}`;
  const at = new Date(0);
  at.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  at.setUTCHours(Number(h), Number(mi), Number(s) - offset, 0);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(at.getUTCFullYear(), 4)}-${p(at.getUTCMonth() + 1)}-${p(at.getUTCDate())} ${p(at.getUTCHours())}:${p(at.getUTCMinutes())}:${p(at.getUTCSeconds())}${fraction}`;
}
