import { isSluiceError, SluiceError } from '../../core/errors.js';
import type { Logger } from '../../core/plugin.js';
import type { Column } from '../../core/records.js';
import { planColumnNames, type IdentifierRules } from '../../core/sql.js';

/**
 * Names a unit's columns by the loader's rules (see {@link planColumnNames}): a header the rules refuse
 * rejects the unit (`TARGET_MISMATCH` where the unit is), and each renamed column is a warning, given once per
 * session however many files repeat the header.
 */
export function createColumnNamer(
  mode: 'normalize' | 'keep',
  rules: IdentifierRules,
  table: string,
  logger: Logger,
): (columns: readonly Column[], origin: string) => string[] {
  const warned = new Set<string>();
  return (columns, origin) => {
    let plan;
    try {
      plan = planColumnNames(
        columns.map((c) => c.name),
        mode,
        rules,
      );
    } catch (error) {
      if (!isSluiceError(error)) throw error;
      throw new SluiceError(error.code, error.message, {
        where: origin,
        ...(error.hint ? { hint: error.hint } : {}),
      });
    }
    for (const note of plan.renamed) {
      if (warned.has(note)) continue;
      warned.add(note);
      logger.warn(`table ${table}: ${note}`);
    }
    return plan.names;
  };
}
