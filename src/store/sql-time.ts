/**
 * SQL that renders a timestamptz expression as ISO 8601 in UTC (`2026-11-30T06:53:02.428Z`), whatever the
 * session's DateStyle and TimeZone: what the API and JSON output promise, where `::text` would give
 * `2026-11-30 06:53:02.428+00`.
 */
export function isoTime(expression: string): string {
  return `to_char((${expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}
