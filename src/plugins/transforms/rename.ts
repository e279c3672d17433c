import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineTransform } from '../../core/plugin.js';

/** Renames columns: `{ "Fecha envio": sent_at }`. */
export const renameTransform = defineTransform({
  name: 'rename',
  summary: 'Rename columns.',
  options: z.strictObject({
    columns: z.record(z.string(), z.string().min(1)).describe('Old name to new name.'),
  }),
  create(opts) {
    return (input) => {
      const names = new Set(input.batch.columns.map((c) => c.name));
      for (const old of Object.keys(opts.columns)) {
        if (!names.has(old)) {
          throw new SluiceError(
            'CONFIG_INVALID',
            `transform rename: there is no column "${old}"; there are ${[...names].join(', ')}`,
          );
        }
      }
      const columns = input.batch.columns.map((c) => ({ ...c, name: opts.columns[c.name] ?? c.name }));
      return { ...input, batch: { ...input.batch, columns } };
    };
  },
});
