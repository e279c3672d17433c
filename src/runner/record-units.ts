import { randomUUID } from 'node:crypto';
import type { RecordSourceSession } from '../core/plugin.js';
import { saveState } from '../store/state.js';
import type { RunScope } from './run-scope.js';
import type { RunUnit, UnitSource } from './run-unit.js';

/**
 * A record source as units (a table, a scanned range): each loads in one transaction with its rows,
 * rejects, counts and state (its watermark), so a failed load never moves a watermark.
 */
export function recordUnits(
  scope: RunScope,
  session: RecordSourceSession,
  options: {
    /** The loader commits elsewhere: give each attempt its own key (record sources are re-read on retry). */
    nonTransactional: boolean;
  },
): UnitSource {
  // A unit re-reads all it covers on every attempt of a run, so `replace` empties its target at the
  // first unit of each attempt: a run resumed after its table committed loads it once, not twice.
  let loadedThisAttempt = 0;
  return {
    location: session.location,
    total: 0,
    async *units() {
      for await (const unit of session.units()) {
        const run: RunUnit = {
          name: unit.name,
          ...(unit.uniqueBy ? { uniqueBy: unit.uniqueBy } : {}),
          prepare: async () => undefined,
          async begin() {
            return {
              fileId: null,
              firstOfRun: loadedThisAttempt === 0,
              key: options.nonTransactional ? `${unit.key}:${randomUUID()}` : unit.key,
            };
          },
          read: () => unit.read(),
          async end(tx) {
            const state = unit.stateAfter?.();
            const saves = state && Object.keys(state).length > 0;
            if (saves) await saveState(tx, scope.spec.name, scope.runId, state);
            return {
              report: { status: 'loaded', ...(saves ? { state } : {}) },
              counts: { unitsLoaded: 1 },
              ...(saves ? { state } : {}),
            };
          },
          failed: async () => undefined,
          async done(report) {
            loadedThisAttempt++;
            scope.state.committed(report.state);
          },
        };
        yield run;
      }
    },
    afterLoads: async () => undefined,
    archive: () => undefined,
    close: () => session.close(),
  };
}
