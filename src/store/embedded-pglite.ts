import { setFlagsFromString } from 'node:v8';
import type { PGlite, PGliteOptions } from '@electric-sql/pglite';

/**
 * PGlite's buffer pool: 32 MB instead of PostgreSQL's 128 MB. PGlite clears the pool at every start: 128 MB
 * cost each CLI command ~0.3 s and 100 MB of memory, and measured no faster on a 1M-row merge into the
 * embedded database (bench/README, start-up).
 */
const SHARED_BUFFERS = '32MB';

/**
 * V8 runs PGlite's 9 MB of wasm as Liftoff code first and recompiles with TurboFan each function that has
 * spent its "tiering budget". PostgreSQL's own start spends the default budget (1.8M) in hundreds of
 * functions, and their recompilation held the main thread 0.2-0.3 s after the start and the exit longer:
 * `sluice runs` on the embedded database took 1.3-1.5 s, 0.8-0.9 s with this budget. Long work still tiers
 * up: a 1M-row insert and upsert inside PGlite took the same time with either budget (bench/README).
 */
const WASM_TIERING_BUDGET = 600_000_000;

function raiseWasmTieringBudget(): void {
  // A budget the user set (NODE_OPTIONS, node's own flags) stands.
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (given.includes('tiering-budget')) return;
  setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
}

/** Every embedded PGlite Sluice opens (the store, the SQL console, a restore), started the same way. */
export async function createPglite(dataDir: string, options: PGliteOptions = {}): Promise<PGlite> {
  raiseWasmTieringBudget(); // before the module is compiled: V8 reads the budget then
  const { PGlite } = await import('@electric-sql/pglite');
  return PGlite.create(dataDir, {
    ...options,
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
  });
}
