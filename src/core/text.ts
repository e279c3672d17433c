/** `1,234`: thousands separators, whatever the locale of the machine. */
export const formatCount = (n: number | string) => Number(n).toLocaleString('en-US');

/**
 * `1 row`, `2 rows`, `1,234 rows`; pass the plural form when adding an s is wrong (`entry`, `entries`).
 * The one pluralising helper: messages never say `1 rows`.
 */
export function plural(n: number | string, singular: string, pluralForm = `${singular}s`): string {
  const count = Number(n);
  return `${formatCount(count)} ${count === 1 ? singular : pluralForm}`;
}
