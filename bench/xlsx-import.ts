/**
 * XLSX → PostgreSQL, 200k rows: `sluice watch --once` under an import rule against pandas + openpyxl
 * (`read_excel` then `to_sql` with a COPY callable, the fastest pandas path; Debian's packages, run with
 * /usr/bin/python3 and installed with apt-get when missing). Part of `npm run bench`; alone:
 *
 *   node --import tsx bench/xlsx-import.ts
 *
 *   BENCH_XLSX_ROWS=200000   rows in the workbook
 *   BENCH_XLSX_REPEAT=1      passes; the median of each side is reported
 *
 * Sluice runs from dist/ (built first when stale, as `npm run bench` does), or from the sources through tsx
 * (slower to start) when the build fails.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeBigXlsx } from '../test/helpers/workbooks.js';
import {
  ADMIN_URL,
  ensureBuilt,
  psql,
  ROOT,
  run,
  runOk,
  SLUICE,
  staleBuild,
  timed,
  withDatabase,
  type Timed,
} from './bench-lib.js';

const ROWS = Number(process.env.BENCH_XLSX_ROWS ?? 200_000);
const REPEAT = Math.max(1, Math.floor(Number(process.env.BENCH_XLSX_REPEAT ?? 1)));
const DATABASE = 'sluice_bench_xlsx';
const TARGET_RATIO = 2;
const PYTHON = '/usr/bin/python3';
const DEBIAN_PACKAGES = ['python3-pandas', 'python3-openpyxl', 'python3-psycopg2', 'python3-sqlalchemy'];

const log = (line: string) => process.stdout.write(`[xlsx] ${line}\n`);

/** pandas' documented COPY recipe for to_sql (https://pandas.pydata.org/docs/user_guide/io.html#io-sql-method). */
const PANDAS_SCRIPT = `
import csv, io, sys
import pandas as pd
from sqlalchemy import create_engine

def copy_insert(table, conn, keys, data_iter):
    with conn.connection.cursor() as cur:
        buf = io.StringIO()
        csv.writer(buf).writerows(data_iter)
        buf.seek(0)
        columns = ', '.join('"{}"'.format(k) for k in keys)
        cur.copy_expert('COPY "{}" ({}) FROM STDIN WITH CSV'.format(table.name, columns), buf)

file, url, table = sys.argv[1:4]
df = pd.read_excel(file, sheet_name=0, engine='openpyxl')
engine = create_engine(url)
df.to_sql(table, engine, if_exists='replace', index=False, method=copy_insert, chunksize=50000)
print(len(df))
`;

/** Debian's pandas, openpyxl, psycopg2 and SQLAlchemy for /usr/bin/python3, installed when missing. */
async function ensurePandas() {
  const check = () => run(PYTHON, ['-c', 'import pandas, openpyxl, psycopg2, sqlalchemy']);
  if ((await check()).code === 0) return;
  log(`installing ${DEBIAN_PACKAGES.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runOk('apt-get', ['update', '-q'], { env });
  await runOk('apt-get', ['install', '-y', '-q', ...DEBIAN_PACKAGES], { env });
  const after = await check();
  if (after.code !== 0) throw new Error(`pandas is still not importable: ${after.stderr}`);
}

export interface XlsxImportResult {
  rows: number;
  sluice: { seconds: number; peakRssMb: number; userSeconds: number; systemSeconds: number };
  pandas: { seconds: number; peakRssMb: number; userSeconds: number; systemSeconds: number };
  /** pandas seconds ÷ Sluice seconds. */
  ratio: number;
  met: boolean;
  sluiceFrom: 'dist' | 'tsx';
}

const median = (xs: Timed[]) => [...xs].sort((a, b) => a.seconds - b.seconds)[(xs.length - 1) >> 1]!;
const pick = (t: Timed) => ({
  seconds: t.seconds,
  peakRssMb: Math.round(t.peakRssKb / 102.4) / 10,
  userSeconds: t.userSeconds,
  systemSeconds: t.systemSeconds,
});

/** Runs the comparison and prints it; returns the figures. */
export async function runXlsxImportBench(): Promise<XlsxImportResult> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'sluice-bench-xlsx-'));
  try {
    await ensurePandas();
    const workbook = path.join(tmp, 'bench_import.xlsx');
    log(`writing a ${ROWS.toLocaleString('en')}-row workbook`);
    await writeBigXlsx(workbook, ROWS);
    await psql(ADMIN_URL, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await psql(ADMIN_URL, `CREATE DATABASE ${DATABASE}`);
    const url = withDatabase(ADMIN_URL, DATABASE);
    const inbox = path.join(tmp, 'inbox');
    await mkdir(inbox, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, SLUICE_HOME: path.join(tmp, 'home') };
    delete env.PGOPTIONS;
    // As users run it, from dist/ (built when stale); from the sources only when the build fails.
    await ensureBuilt(log).catch((error: unknown) => log(`${String(error)}; running from the sources`));
    const fromDist = (await staleBuild()) === undefined;
    const sluice = (args: string[]) =>
      fromDist
        ? timed(SLUICE, args, { env })
        : timed(
            'node',
            ['--max-semi-space-size=32', '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args],
            {
              env,
            },
          );
    const rules = path.join(tmp, 'rules.yaml');
    await writeFile(
      rules,
      `rules:\n  - name: bench\n    filePattern: '^bench_import\\.xlsx$'\n    fileType: xlsx\n` +
        `    sourceFolder: ${inbox}\n    archiveFolder: ${path.join(tmp, 'archive')}\n    targetTable: bench_xlsx\n`,
    );
    const added = await sluice(['rules', 'add', rules]);
    if (added.code !== 0) throw new Error(`sluice rules add failed: ${added.stderr}`);
    const script = path.join(tmp, 'pandas_import.py');
    await writeFile(script, PANDAS_SCRIPT);
    const pandasUrl = url.replace(/^postgres:\/\//, 'postgresql+psycopg2://');

    const sluiceRuns: Timed[] = [];
    const pandasRuns: Timed[] = [];
    for (let pass = 1; pass <= REPEAT; pass++) {
      // A fresh target and ledger each pass: the same content would otherwise be skipped as already loaded.
      await psql(
        url,
        `DROP TABLE IF EXISTS bench_xlsx, ref_xlsx; DELETE FROM sluice.datasets; DELETE FROM sluice.rejects; DELETE FROM sluice.files`,
      );
      await copyFile(workbook, path.join(inbox, 'bench_import.xlsx'));
      await psql(url, 'CHECKPOINT');
      log(`pass ${pass}/${REPEAT}: sluice watch --once`);
      const s = await sluice(['watch', '--once', '--stability', '0s']);
      if (s.code !== 0 || !/1 loaded/.test(s.stdout))
        throw new Error(`sluice watch failed: ${s.stdout} ${s.stderr}`);
      sluiceRuns.push(s);
      await psql(url, 'CHECKPOINT');
      log(`pass ${pass}/${REPEAT}: pandas read_excel + to_sql (COPY)`);
      const p = await timed(PYTHON, [script, workbook, pandasUrl, 'ref_xlsx']);
      if (p.code !== 0) throw new Error(`pandas failed: ${p.stderr.slice(-2000)}`);
      pandasRuns.push(p);
      const counts = await psql(
        url,
        "SELECT (SELECT count(*) FROM bench_xlsx) || ' ' || (SELECT count(*) FROM ref_xlsx)",
      );
      if (counts !== `${ROWS} ${ROWS}`)
        throw new Error(`rows loaded (sluice, pandas): ${counts}, expected ${ROWS} each`);
    }
    const s = pick(median(sluiceRuns));
    const p = pick(median(pandasRuns));
    const ratio = Math.round((p.seconds / s.seconds) * 100) / 100;
    const result: XlsxImportResult = {
      rows: ROWS,
      sluice: s,
      pandas: p,
      ratio,
      met: ratio >= TARGET_RATIO,
      sluiceFrom: fromDist ? 'dist' : 'tsx',
    };
    const line = (name: string, t: typeof s) =>
      `  ${name.padEnd(34)} ${t.seconds.toFixed(2).padStart(7)} s  ${Math.round(ROWS / t.seconds)
        .toLocaleString('en')
        .padStart(
          9,
        )} rows/s  ${t.peakRssMb.toFixed(0).padStart(5)} MB peak  ${(t.userSeconds + t.systemSeconds).toFixed(1).padStart(6)} s CPU`;
    process.stdout.write(
      `\nXLSX → PostgreSQL, ${ROWS.toLocaleString('en')} rows${REPEAT > 1 ? ` (median of ${REPEAT})` : ''}\n`,
    );
    process.stdout.write(`${line(`sluice watch --once (${result.sluiceFrom})`, s)}\n`);
    process.stdout.write(`${line('pandas + openpyxl, to_sql COPY', p)}\n`);
    process.stdout.write(
      `  ${result.met ? 'met    ' : 'NOT MET'}  Sluice ≥ ${TARGET_RATIO}× pandas: ${ratio}×\n`,
    );
    return result;
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await psql(ADMIN_URL, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).catch(() => undefined);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runXlsxImportBench().then(
    (r) => (r.met ? 0 : 1),
    (error: unknown) => {
      process.stderr.write(
        `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      return 1;
    },
  );
}
