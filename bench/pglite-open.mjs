// The floor under `sluice runs` on the embedded database, timed by bench/startup.ts: PGlite alone opens
// the store as Sluice does (same buffer pool, same wasm tiering budget: src/store/embedded-pglite.ts),
// reads one row and closes. Usage: node bench/pglite-open.mjs DATA_DIR
import process from 'node:process';
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--wasm-tiering-budget=600000000');
const { PGlite } = await import('@electric-sql/pglite');
const db = await PGlite.create(process.argv[2], {
  startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'],
});
await db.query('SELECT * FROM sluice.runs ORDER BY started_at DESC LIMIT 20');
await db.close();
