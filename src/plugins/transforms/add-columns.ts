import { z } from 'zod';
import { defineTransform } from '../../core/plugin.js';
import type { Column } from '../../core/records.js';

/** Adds lineage columns (file name, line number) or constants to every row. */
export const addColumnsTransform = defineTransform({
  name: 'addColumns',
  summary: 'Add columns: the source file name, the source line, or a constant.',
  options: z.strictObject({
    columns: z
      .record(z.string(), z.union([z.enum(['file', 'line']), z.strictObject({ constant: z.string() })]))
      .describe('New column name to `file`, `line`, or `{ constant: value }`.'),
  }),
  create(opts) {
    const added = Object.entries(opts.columns);
    const newColumns: Column[] = added.map(([name, what]) => ({
      name,
      type: what === 'line' ? 'integer' : 'text',
    }));
    return (input) => {
      const { batch } = input;
      for (let i = 0; i < batch.rows.length; i++) {
        const row = batch.rows[i]!;
        for (const [, what] of added) {
          row.push(what === 'file' ? batch.origin : what === 'line' ? batch.lines[i]! : what.constant);
        }
      }
      return { ...input, batch: { ...batch, columns: [...batch.columns, ...newColumns] } };
    };
  },
});
