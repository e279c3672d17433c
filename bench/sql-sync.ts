/**
 * PostgreSQL → PostgreSQL sync of BENCH_SYNC_ROWS rows (1M by default) by Sluice's sql source and postgres
 * loader, side by side with `psql -c "COPY … TO STDOUT" | psql -c "COPY … FROM STDIN"` in the same run.
 * Part of `npm run bench` (BENCH_SYNC=0 leaves it out); alone: `node --import tsx bench/sql-sync.ts`.
 *
 *   BENCH_SYNC_ROWS=1000000   rows in the source table
 *   BENCH_REPEAT=3            passes; the median of each case is reported
 *
 * Cases: a first sync into an empty table (merge on the key, as a sync pipeline runs), the same rows again
 * with a tenth of them changed (incremental: only the changed rows), and the reference pipe into an empty
 * table. Target (issue 6): the first sync ≥ 50 % of the pipe's speed.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ADMIN_URL,
  dropDatabase,
  ensureBuilt,
  psql,
  ROOT,
  runOk,
  SLUICE,
  timed,
  withDatabase,
  type Timed,
} from './bench-lib.js';

const ROWS = Number(process.env.BENCH_SYNC_ROWS ?? 1_000_000);
const REPEAT = Math.max(1, Math.floor(Number(process.env.BENCH_REPEAT ?? 3)));
const TARGET_RATIO = 0.5;
const SOURCE_DB = 'sluice_bench_sync_src';
const TARGET_DB = 'sluice_bench_sync';

const started = performance.now();
const log = (line: string) =>
  process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

const DDL = (name: string) =>
  `CREATE TABLE ${name} (id bigint PRIMARY KEY, updated_at timestamp NOT NULL, customer text NOT NULL,
     amount numeric(12,2), status text, note text, created date)`;

interface Sample {
  seconds: number;
  peakRssMb: number;
  rowsRead?: number;
}

/** Runs the sync cases and prints their table; `met` says whether the target held. */
export async function runSqlSyncBench(): Promise<{ met: boolean; ratio: number }> {
  await ensureBuilt(log);
  const tmp = await mkdtemp(path.join(tmpdir(), 'sluice-bench-sync-'));
  try {
    for (const db of [SOURCE_DB, TARGET_DB]) {
      await dropDatabase(db);
      await psql(ADMIN_URL, `CREATE DATABASE ${db}`);
    }
    const sourceUrl = withDatabase(ADMIN_URL, SOURCE_DB);
    const targetUrl = withDatabase(ADMIN_URL, TARGET_DB);
    log(`generating ${ROWS.toLocaleString('en')} source rows`);
    await psql(sourceUrl, DDL('orders'));
    await psql(
      sourceUrl,
      `INSERT INTO orders SELECT g, timestamp '2026-01-01' + g * interval '1 second', 'customer ' || (g % 50000),
         (g % 100000) / 100.0, (ARRAY['open','paid','late','closed'])[1 + g % 4], md5(g::text), date '2026-01-01' + (g % 300)
       FROM generate_series(1, ${ROWS}) g`,
    );
    await psql(sourceUrl, 'VACUUM ANALYZE orders');
    const home = path.join(tmp, 'home');
    await mkdir(home, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: targetUrl, SLUICE_HOME: home };
    delete env.PGOPTIONS;
    await runOk('node', [SLUICE, 'runs'], { env }); // Sluice's schema, before anything is timed

    const samples = new Map<string, Sample[]>();
    const add = (name: string, s: Sample) => samples.set(name, [...(samples.get(name) ?? []), s]);
    const mb = (t: Timed) => Math.round(t.peakRssKb / 1024);

    for (let pass = 1; pass <= REPEAT; pass++) {
      log(`pass ${pass} of ${REPEAT}`);
      await psql(targetUrl, 'DROP TABLE IF EXISTS ref_orders, orders');
      await psql(targetUrl, DDL('ref_orders'));
      await psql(targetUrl, 'CHECKPOINT');
      const pipe = await timed('bash', [
        '-c',
        `set -o pipefail; psql -X -q -d '${sourceUrl}' -c 'COPY (SELECT * FROM orders) TO STDOUT' | psql -X -q -d '${targetUrl}' -c 'COPY ref_orders FROM STDIN'`,
      ]);
      if (pipe.code !== 0) throw new Error(`the psql pipe failed: ${pipe.stderr}`);
      add('psql COPY pipe', { seconds: pipe.seconds, peakRssMb: mb(pipe) });
      log(`  psql COPY pipe: ${pipe.seconds.toFixed(2)} s`);

      const name = `bench-sync-${pass}-${Date.now().toString(36)}`;
      const file = path.join(tmp, `${name}.yaml`);
      await writeFile(
        file,
        `name: ${name}
source:
  type: sql
  url: ${sourceUrl}
  table: orders
  primaryKey: [id]
  incrementalColumn: updated_at
  batchSize: 10000
load:
  type: postgres
  table: orders
  mode: merge
  keys: [id]
`,
      );
      await psql(targetUrl, 'CHECKPOINT');
      const first = await sluice(file, env);
      add('first sync (merge into empty table)', {
        seconds: first.t.seconds,
        peakRssMb: mb(first.t),
        rowsRead: first.rowsRead,
      });
      log(
        `  first sync: ${first.t.seconds.toFixed(2)} s, ${mb(first.t)} MB peak RSS, ${first.rowsRead} rows`,
      );

      // Later than every earlier pass's changes, so that the watermark sees them as new.
      await psql(
        sourceUrl,
        `UPDATE orders SET status = 'changed', updated_at = timestamp '2030-01-01' + ${pass} * interval '1 day' + id * interval '1 millisecond' WHERE id % 10 = ${pass % 10}`,
      );
      await psql(targetUrl, 'VACUUM ANALYZE orders');
      const next = await sluice(file, env);
      add('incremental sync (a tenth changed)', {
        seconds: next.t.seconds,
        peakRssMb: mb(next.t),
        rowsRead: next.rowsRead,
      });
      log(`  incremental sync: ${next.t.seconds.toFixed(2)} s, ${next.rowsRead} rows`);
      const differ = await psql(
        targetUrl,
        `SELECT count(*) FROM orders o FULL JOIN ref_orders r USING (id) WHERE r.id IS NULL OR o.id IS NULL`,
      );
      if (differ !== '0') throw new Error(`the sync and the pipe disagree on ${differ} keys`);
    }

    const median = (name: string) => {
      const all = [...(samples.get(name) ?? [])].sort((a, b) => a.seconds - b.seconds);
      return all[(all.length - 1) >> 1]!;
    };
    const pipe = median('psql COPY pipe');
    const first = median('first sync (merge into empty table)');
    const next = median('incremental sync (a tenth changed)');
    const ratio = pipe.seconds / first.seconds;
    const rows = [
      ['case', 'seconds', 'rows/s', 'vs pipe', 'peak RSS'],
      [
        'psql COPY pipe',
        pipe.seconds.toFixed(2),
        Math.round(ROWS / pipe.seconds).toLocaleString('en'),
        '',
        '',
      ],
      [
        'sluice: first sync',
        first.seconds.toFixed(2),
        Math.round(ROWS / first.seconds).toLocaleString('en'),
        `${(ratio * 100).toFixed(0)} %`,
        `${first.peakRssMb} MB`,
      ],
      [
        'sluice: incremental (10 %)',
        next.seconds.toFixed(2),
        Math.round((next.rowsRead ?? 0) / next.seconds).toLocaleString('en'),
        '',
        `${next.peakRssMb} MB`,
      ],
    ];
    process.stdout.write(
      '\nPostgreSQL → PostgreSQL sync, ' + ROWS.toLocaleString('en') + ' rows (medians)\n',
    );
    for (const r of rows)
      process.stdout.write(
        `  ${r[0]!.padEnd(28)} ${r
          .slice(1)
          .map((c) => c.padStart(12))
          .join(' ')}\n`,
      );
    const met = ratio >= TARGET_RATIO;
    process.stdout.write(
      `\n  ${met ? 'met    ' : 'NOT MET'}  first sync ≥ ${TARGET_RATIO * 100} % of the psql pipe: ${(ratio * 100).toFixed(0)} %\n`,
    );
    const out = path.join(ROOT, 'bench', 'out');
    await mkdir(out, { recursive: true });
    await writeFile(
      path.join(out, 'sql-sync.json'),
      JSON.stringify(
        {
          finishedAt: new Date().toISOString(),
          rows: ROWS,
          repeat: REPEAT,
          ratio,
          samples: Object.fromEntries(samples),
        },
        null,
        2,
      ) + '\n',
    );
    return { met, ratio };
  } finally {
    await rm(tmp, { recursive: true, force: true });
    for (const db of [SOURCE_DB, TARGET_DB]) await dropDatabase(db).catch(() => undefined);
  }
}

async function sluice(file: string, env: NodeJS.ProcessEnv): Promise<{ t: Timed; rowsRead: number }> {
  const t = await timed(SLUICE, ['run', file, '--json', '--force'], { env });
  let summary: { status: string; rowsRead: number; error?: unknown };
  try {
    summary = JSON.parse(t.stdout) as typeof summary;
  } catch {
    throw new Error(`sluice run exited with ${t.code}: ${t.stderr.slice(-2000)}`);
  }
  if (summary.status !== 'succeeded') throw new Error(`the sync failed: ${JSON.stringify(summary.error)}`);
  return { t, rowsRead: summary.rowsRead };
}

// Alone: node --import tsx bench/sql-sync.ts
if (import.meta.url === `file://${process.argv[1]}`) {
  const { met } = await runSqlSyncBench();
  process.exitCode = met ? 0 : 1;
}
