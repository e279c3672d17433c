/** How numbers are written in a file: which character is the decimal mark, and whether `(12)` means -12. */
export interface NumberLocale {
  decimal: '.' | ',';
  /** `(12)` and `(1.234,5)` are negative, as accountants write them. */
  parenthesesNegative?: boolean;
}

// Grouping characters: the other of `.`/`,`, spaces (also the no-break and narrow no-break ones that
// spreadsheets put in), and apostrophes (Swiss `1'234.5`).
const SPACES = ' \u00a0\u202f';
const APOSTROPHES = "'\u2019";

/**
 * The number a text means in `locale`, as canonical text (`-1234.5`), or undefined when it is not one.
 * Grouping separators must group by three (`1.234.567,8`): `1,234.5` read with a decimal comma is refused
 * rather than taken as 1.2345, the misreading seed 002's original made.
 */
export function parseLocaleNumber(text: string, locale: NumberLocale): string | undefined {
  // The kinds of space are one grouping mark (a spreadsheet may mix the no-break ones in).
  let s = text.replace(/[\u00a0\u202f]/g, ' ').trim();
  let negative = false;
  if (locale.parenthesesNegative && s.startsWith('(') && s.endsWith(')')) {
    negative = true;
    s = s.slice(1, -1).trim();
  }
  if (s.startsWith('-') || s.startsWith('+') || s.startsWith('\u2212')) {
    if (negative) return undefined;
    negative = s[0] !== '+';
    s = s.slice(1);
  }
  const group = locale.decimal === ',' ? '.' : ',';
  const groupClass = `[${escape(group + SPACES + APOSTROPHES)}]`;
  const mark = escape(locale.decimal);
  const pattern = new RegExp(`^(\\d{1,3}(?:${groupClass}\\d{3})+|\\d+)?(?:${mark}(\\d+))?$`);
  const match = pattern.exec(s);
  if (!match || (match[1] === undefined && match[2] === undefined)) return undefined;
  const digits = (match[1] ?? '0').replace(new RegExp(groupClass, 'g'), '');
  // One grouping character throughout: `1.234 567` mixes two and is not a number.
  const groupsUsed = new Set((match[1] ?? '').replace(/\d/g, ''));
  if (groupsUsed.size > 1) return undefined;
  const integer = digits.replace(/^0+(?=\d)/, '');
  const fraction = match[2] ?? '';
  const body = fraction ? `${integer}.${fraction}` : integer;
  return negative && /[1-9]/.test(body) ? `-${body}` : body;
}

function escape(chars: string): string {
  return chars.replace(/[\\\]^\-[.]/g, '\\$&');
}
