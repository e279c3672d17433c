/**
 * `1,234`: thousands separators, whatever the locale of the machine. Integers are grouped by hand: the first
 * toLocaleString of a process loads ICU's number data, 28 ms of `sluice runs`' start-up.
 */
export function formatCount(n: number | string): string {
  const value = Number(n);
  if (!Number.isSafeInteger(value)) return value.toLocaleString('en-US');
  const digits = String(Math.abs(value));
  let grouped = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = grouped.length; i < digits.length; i += 3) grouped += `,${digits.slice(i, i + 3)}`;
  return value < 0 ? `-${grouped}` : grouped;
}

/**
 * `1 row`, `2 rows`, `1,234 rows`; pass the plural form when adding an s is wrong (`entry`, `entries`).
 * The one pluralising helper: messages never say `1 rows`.
 */
export function plural(n: number | string, singular: string, pluralForm = `${singular}s`): string {
  const count = Number(n);
  return `${formatCount(count)} ${count === 1 ? singular : pluralForm}`;
}
