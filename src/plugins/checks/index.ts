import type { CheckRule } from '../../core/plugin.js';
import { datetimeCheck } from './datetime-check.js';
import { decimalCheck } from './decimal-check.js';
import { emailCheck } from './email-check.js';
import { integerCheck } from './integer-check.js';
import { lowercaseCheck } from './lowercase-check.js';
import { oneOfCheck } from './one-of-check.js';
import { regexCheck } from './regex-check.js';
import { trimCheck } from './trim-check.js';
import { uppercaseCheck } from './uppercase-check.js';

/**
 * The built-in column rules, in the order they apply to a column (the pipeline spec orders a column's rules
 * by this list): the normalizers first, so that the checks see trimmed, case-folded text.
 */
export const checkRules: CheckRule[] = [
  trimCheck,
  lowercaseCheck,
  uppercaseCheck,
  emailCheck,
  datetimeCheck,
  integerCheck,
  decimalCheck,
  regexCheck,
  oneOfCheck,
];
