import { z } from 'zod';
import { defineCheck } from '../../core/plugin.js';

/** Turns the value into upper case. */
export const uppercaseCheck = defineCheck({
  name: 'uppercase',
  summary: 'Turns the value into upper case.',
  options: z.literal(true).describe('true: upper-case the value.'),
  compile: () => (value) => ({ ok: true, value: value.toUpperCase() }),
});
