const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The text of a duration: numbers, each with its unit (`1h30m`), as a regular expression's source. */
export const DURATION_PATTERN = '^\\s*(?:\\d+(?:\\.\\d+)?\\s*(?:ms|s|m|h|d)\\s*)+$';

/** `90s`, `30m`, `6h`, `1d`, `1h30m` in milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const parts = new RegExp(DURATION_PATTERN).test(text)
    ? [...text.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g)]
    : [];
  if (parts.length === 0) return undefined;
  return Math.round(
    parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS], 0),
  );
}

/** Milliseconds said the short way: `6h`, `1h30m`, `45s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  let rest = Math.round(ms / 1000);
  const out: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      out.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return out.join('');
}
