import { z } from 'zod';
import { defineCheck } from '../../core/plugin.js';

/** Removes spaces (and other white space) around the value. */
export const trimCheck = defineCheck({
  name: 'trim',
  summary: 'Removes white space around the value.',
  options: z.literal(true).describe('true: trim the value.'),
  compile: () => (value) => ({ ok: true, value: value.trim() }),
});
