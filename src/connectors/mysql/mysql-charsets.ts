import type { CharacterRule } from '../../core/sql.js';

/**
 * The characters of MySQL's latin1 beyond ASCII: windows-1252, whose five unassigned bytes (0x81, 0x8D, 0x8F,
 * 0x90, 0x9D) MySQL maps to the C1 controls of the same number. https://dev.mysql.com/doc/refman/8.0/en/charset-we-sets.html
 */
const LATIN1_EXTRA = new Set([
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
  0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
  0x153, 0x9d, 0x17e, 0x178,
]);

/**
 * What a MySQL column of `charset` cannot store, for the character sets whose repertoire Sluice knows:
 * utf8mb4 and the UTF-16/32 sets hold every character, utf8mb3 (`utf8`) and ucs2 only the Basic Multilingual
 * Plane (no emoji), latin1 its 256 characters, ascii 128. Undefined for other sets (and non-text columns):
 * the server then refuses what does not fit, and the file is rejected naming the column.
 */
export function mysqlCharacterRule(charset: string | null | undefined): CharacterRule | undefined {
  const target = `a ${charset} column`;
  switch (charset?.toLowerCase()) {
    case 'utf8mb4':
    case 'utf16':
    case 'utf16le':
    case 'utf32':
      return { target, suspect: /[\uD800-\uDFFF]/, refuses: () => false };
    case 'utf8':
    case 'utf8mb3':
    case 'ucs2':
      return { target, suspect: /[\uD800-\uDFFF]/, refuses: (cp) => cp > 0xffff };
    case 'latin1':
      return {
        target,
        // eslint-disable-next-line no-control-regex -- the range starts at U+0000 on purpose
        suspect: /[^\u0000-\u007F\u00A0-\u00FF]/,
        refuses: (cp) => !(cp < 0x80 || (cp >= 0xa0 && cp <= 0xff) || LATIN1_EXTRA.has(cp)),
      };
    case 'ascii':
      // eslint-disable-next-line no-control-regex -- the range starts at U+0000 on purpose
      return { target, suspect: /[^\u0000-\u007F]/, refuses: (cp) => cp > 0x7f };
    default:
      return undefined;
  }
}
