import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import type { LoaderCapabilities } from '../../core/plugin.js';
import { parseTableName, type IdentifierRules } from '../../core/sql.js';
import { unstorableCharactersOption } from './unstorable.js';

/** One SQL statement or a list of them, as a list. */
export const sqlSteps = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]))
  .optional();

/** The SQL steps a table loader runs around its loads, each described in the loader's own dialect. */
export function sqlStepOptions(describe: { setup: string; afterLoad: string; afterRun: string }) {
  return {
    setup: sqlSteps.describe(describe.setup),
    afterLoad: sqlSteps.describe(describe.afterLoad),
    afterRun: sqlSteps.describe(describe.afterRun),
  };
}

/** A table name, `table` or `schema.table`, with no empty part (the loaders quote it as given). */
export const tableName = z
  .string()
  .min(1)
  .refine((text) => {
    const t = parseTableName(text);
    return t.name !== '' && t.schema !== '' && !text.includes('\u0000');
  }, 'a table name, `table` or `schema.table`, with no empty part and no NUL');

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
    .describe(
      'normalize: "Fecha envio" becomes fecha_envio; keep: use the names as they are (a file with an empty name, or one the database cannot have, is rejected). Either way a name the database reserves gets _ appended (xmin_), a name past its length limit is cut to it, and a repeated name gets _2, _3…; each such change is a warning.',
    ),
  unstorableCharacters: unstorableCharactersOption,
};

/** The identifier capabilities a loader declares, from the rules its code uses. */
export function identifierCapabilities(
  rules: IdentifierRules,
): Pick<LoaderCapabilities, 'maxIdentifierLength' | 'identifierLengthUnit'> {
  return { maxIdentifierLength: rules.maxLength, identifierLengthUnit: rules.unit };
}

/** A file wider than the table can be: rejected before anything is written. */
export function checkWidth(count: number, max: number, label: string, origin: string): void {
  if (count <= max) return;
  throw new SluiceError(
    'TARGET_MISMATCH',
    `the file has ${count} columns; a ${label} table holds at most ${max}`,
    { where: origin, hint: 'Split the file into narrower ones.' },
  );
}

/** Merge needs keys: the refinement both loaders put on their options. */
export const mergeNeedsKeys: [
  (o: { mode: string; keys: string[] }) => boolean,
  { message: string; path: string[] },
] = [(o) => o.mode !== 'merge' || o.keys.length > 0, { message: 'merge needs keys', path: ['keys'] }];
