import { z } from 'zod';

/** One SQL statement or a list of them, as a list. */
export const sqlSteps = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]))
  .optional();

/** What every table loader takes the same way: how rows are written and named. */
export const tableWriteOptions = {
  mode: z
    .enum(['append', 'replace', 'merge'])
    .default('append')
    .describe("append: insert; replace: the run's rows replace the table; merge: upsert on keys."),
  createTable: z.boolean().default(true).describe('Create a missing table with the types the checks give.'),
  columnNames: z
    .enum(['normalize', 'keep'])
    .default('normalize')
    .describe('normalize: "Fecha envio" becomes fecha_envio; keep: use the names as they are.'),
};

/** Merge needs keys: the refinement both loaders put on their options. */
export const mergeNeedsKeys: [
  (o: { mode: string; keys: string[] }) => boolean,
  { message: string; path: string[] },
] = [(o) => o.mode !== 'merge' || o.keys.length > 0, { message: 'merge needs keys', path: ['keys'] }];
