/**
 * Rows into a lake version (the lake loader: CSV → checks → Parquet partitions by series/year/month in a
 * folder, manifest, pointer) against the same rows written by hyparquet-writer alone (bench/lake-reference.ts),
 * timed in the same run, and Sluice's peak RSS at each size: it should stay flat as the rows grow.
 * Part of `npm run bench` (BENCH_LAKE=0 leaves it out); alone: `node --import tsx bench/lake.ts`.
 *
 *   BENCH_LAKE_ROWS=1000000,5000000   sizes to run (the first is compared with the reference)
 *
 * Sluice's control plane is a database on the local PostgreSQL server (as in the other cases), so that the
 * peak RSS is the loader's and not an embedded database's.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import {
  ADMIN_URL,
  dropDatabase,
  ensureBuilt,
  parseSummary,
  psql,
  ROOT,
  runOk,
  SLUICE,
  timed,
  withDatabase,
} from './bench-lib.js';

const SIZES = (process.env.BENCH_LAKE_ROWS ?? '1000000,5000000')
  .split(',')
  .map((n) => Number(n.trim()))
  .filter((n) => n > 0);
const DATABASE = 'sluice_bench_lake';
const SERIES = 20;

const started = performance.now();
const log = (line: string) =>
  process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

/** `rows` observations of SERIES series, one an hour from 2024-01-01: about 2 years of months per series. */
async function generate(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('internal_series_code,obs_time,value\n');
  const perSeries = Math.ceil(rows / SERIES);
  const start = Date.UTC(2024, 0, 1);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const series = Math.floor(i / perSeries);
    const t = new Date(start + (i % perSeries) * 3_600_000).toISOString();
    chunk += `S${String(series).padStart(2, '0')},${t.slice(0, 10)} ${t.slice(11, 19)},${(i % 100_000) / 7}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

const pipeline = (inbox: string, lake: string) => `name: bench_lake
source: { url: '${inbox}', glob: '*.csv' }
parse: { type: csv }
check:
  columns:
    obs_time: { datetime: 'yyyy-MM-dd HH:mm:ss' }
    value: { decimal: true }
load:
  type: lake
  dataset: bench
  url: '${lake}'
  format: parquet
  compression: snappy
  partition: series_year_month
`;

export async function runLakeBench(): Promise<void> {
  await ensureBuilt(log);
  const tmp = await mkdtemp(path.join(tmpdir(), 'sluice-bench-lake-'));
  const results: { rows: number; seconds: number; peakRssMb: number; files: number }[] = [];
  let reference: { seconds: number; peakRssMb: number } | undefined;
  try {
    for (const rows of SIZES) {
      const inbox = path.join(tmp, `inbox-${rows}`);
      const lake = path.join(tmp, `lake-${rows}`);
      const home = path.join(tmp, `home-${rows}`);
      await Promise.all([inbox, home].map((d) => mkdir(d, { recursive: true })));
      const csv = path.join(inbox, 'observations.csv');
      log(`generating ${rows.toLocaleString('en')} rows`);
      await generate(csv, rows);
      if (!reference) {
        const t = await timed(
          'node',
          [
            '--import',
            'tsx',
            path.join(ROOT, 'bench', 'lake-reference.ts'),
            csv,
            path.join(tmp, 'reference.parquet'),
          ],
          { env: { ...process.env } },
        );
        if (t.code !== 0) throw new Error(`the reference failed: ${t.stderr}`);
        reference = { seconds: t.seconds, peakRssMb: Math.round(t.peakRssKb / 1024) };
        log(`  hyparquet-writer alone: ${t.seconds.toFixed(2)} s, ${reference.peakRssMb} MB peak RSS`);
      }
      await dropDatabase(DATABASE);
      await psql(ADMIN_URL, `CREATE DATABASE ${DATABASE}`);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        DATABASE_URL: withDatabase(ADMIN_URL, DATABASE),
        SLUICE_HOME: home,
      };
      await runOk('node', [SLUICE, 'runs'], { env }); // migrations before the timing
      const file = path.join(tmp, `bench-lake-${rows}.yaml`);
      await writeFile(file, pipeline(inbox, lake));
      const t = await timed(SLUICE, ['run', file, '--json'], { env });
      const summary = parseSummary(t.stdout);
      if (t.code !== 0 || summary.status !== 'succeeded' || summary.rowsLoaded !== rows)
        throw new Error(
          `sluice run did not load ${rows} rows: ${t.stderr.slice(-1000)} ${t.stdout.slice(-1000)}`,
        );
      const datasetDir = path.join(lake, 'datasets', 'bench');
      const version = (await readFile(path.join(datasetDir, 'index', 'current_version.txt'), 'utf8')).trim();
      const manifestFile = path.join(datasetDir, 'versions', version, 'manifest.json');
      const { files } = JSON.parse(await readFile(manifestFile, 'utf8')) as { files: unknown[] };
      results.push({
        rows,
        seconds: t.seconds,
        peakRssMb: Math.round(t.peakRssKb / 1024),
        files: files.length,
      });
      log(
        `  sluice into a lake version: ${t.seconds.toFixed(2)} s, ${Math.round(t.peakRssKb / 1024)} MB peak RSS, ${files.length} files`,
      );
      await rm(inbox, { recursive: true, force: true });
      await rm(lake, { recursive: true, force: true });
    }
  } finally {
    await dropDatabase(DATABASE).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
  const first = results[0]!;
  process.stdout.write('\nLake: rows into a version (Parquet, snappy, series/year/month partitions)\n');
  process.stdout.write('  rows        seconds   rows/s     peak RSS   files\n');
  for (const r of results)
    process.stdout.write(
      `  ${r.rows.toLocaleString('en').padEnd(11)} ${r.seconds.toFixed(2).padStart(7)}   ${Math.round(
        r.rows / r.seconds,
      )
        .toLocaleString('en')
        .padStart(8)}   ${String(r.peakRssMb).padStart(5)} MB   ${r.files}\n`,
    );
  if (reference)
    process.stdout.write(
      `  hyparquet-writer alone, ${first.rows.toLocaleString('en')} rows: ${reference.seconds.toFixed(2)} s, ${reference.peakRssMb} MB; ` +
        `Sluice takes ${(first.seconds / reference.seconds).toFixed(2)}× its time\n`,
    );
  const last = results.at(-1)!;
  if (results.length > 1)
    process.stdout.write(
      `  peak RSS from ${first.rows.toLocaleString('en')} to ${last.rows.toLocaleString('en')} rows: ${first.peakRssMb} → ${last.peakRssMb} MB\n`,
    );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runLakeBench();
}
