import { z } from 'zod';
import { defineCheck } from '../../core/plugin.js';

// A practical address, not the whole of RFC 5322: a dot-atom local part (no leading, trailing or double
// dot), one @, domain labels of letters, digits and inner hyphens, and a top-level domain of two or more
// letters (or an IDN one, xn--…). Lengths: local part 64, address 254 (RFC 5321 §4.5.3.1).
const address =
  /^(?!\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$/;

/** A practical e-mail address check (local@domain.tld). */
export const emailCheck = defineCheck({
  name: 'email',
  summary: 'The value is an e-mail address (local@domain.tld, no spaces).',
  options: z.literal(true).describe('true: the value must be an e-mail address.'),
  compile: () => (value) =>
    // The double-dot rule as includes(): a look-ahead over the whole value costs more per row.
    value.length <= 254 && !value.includes('..') && address.test(value)
      ? { ok: true, value }
      : { ok: false, message: 'not a valid e-mail address' },
});
