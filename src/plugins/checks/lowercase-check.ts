import { z } from 'zod';
import { defineCheck } from '../../core/plugin.js';

/** Turns the value into lower case. */
export const lowercaseCheck = defineCheck({
  name: 'lowercase',
  summary: 'Turns the value into lower case.',
  options: z.literal(true).describe('true: lower-case the value.'),
  compile: () => (value) => ({ ok: true, value: value.toLowerCase() }),
});
