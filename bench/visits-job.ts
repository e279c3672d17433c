/**
 * The whole visitor job (examples/visits/pipeline.yaml: parse, checks, rejects, statistics replaced, visit
 * history, visitor upsert, current year/month counters, errors, archive) against the same job written by
 * hand as one psql script (bench/visits-job.sql) plus `zip -6` of the file, timed in the same run.
 * Part of `npm run bench` (BENCH_JOB=0 leaves it out); alone: `node --import tsx bench/visits-job.ts`.
 *
 *   BENCH_JOB_ROWS=1000000   rows in the report (the generator of the other cases: 1 % invalid… see README)
 *   BENCH_REPEAT=3           passes; the median of each case is reported
 *
 * Target (issue 17): Sluice ≤ 1.0 × (script + zip), i.e. a ratio (script + zip) ÷ Sluice ≥ 100 %.
 */
import { link, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ADMIN_URL,
  createWorkspace,
  dropDatabase,
  ensureBuilt,
  parseSummary,
  psql,
  ROOT,
  runOk,
  SLUICE,
  timed,
  withDatabase,
  type Timed,
} from './bench-lib.js';

const ROWS = Number(process.env.BENCH_JOB_ROWS ?? 1_000_000);
const REPEAT = Math.max(1, Math.floor(Number(process.env.BENCH_REPEAT ?? 3)));
const DATABASE = 'sluice_bench_job';
const AS_OF = '2026-11-27';
const JOB_TABLES = ['statistics', 'visit', 'visitor', 'errors'];

const started = performance.now();
const log = (line: string) =>
  process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

interface Sample {
  seconds: number;
  peakRssMb: number;
  cpuSeconds: number;
  timings?: Record<string, number>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
const sample = (t: Timed): Sample => ({
  seconds: t.seconds,
  peakRssMb: Math.round(t.peakRssKb / 1024),
  cpuSeconds: Math.round((t.userSeconds + t.systemSeconds) * 100) / 100,
});

/** Runs the job cases and prints their table; `met` says whether the target held. */
export async function runVisitsJobBench(): Promise<{ met: boolean; ratio: number }> {
  await ensureBuilt(log);
  const ws = await createWorkspace(ROWS, log);
  try {
    await dropDatabase(DATABASE);
    await psql(ADMIN_URL, `CREATE DATABASE ${DATABASE}`);
    const url = withDatabase(ADMIN_URL, DATABASE);
    await psql(url, 'CREATE SCHEMA ref');
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, SLUICE_HOME: ws.home };
    delete env.PGOPTIONS;
    await runOk('node', [SLUICE, 'runs'], { env }); // Sluice's schema, before anything is timed
    log(`load average ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`);

    const example = await readFile(path.join(ROOT, 'examples', 'visits', 'pipeline.yaml'), 'utf8');
    const script = (await readFile(path.join(ROOT, 'bench', 'visits-job.sql'), 'utf8')).replaceAll(
      '__FILE__',
      ws.sluiceFile.replaceAll("'", "''"),
    );
    const scriptFile = path.join(ws.tmp, 'visits-job.sql');
    await writeFile(scriptFile, script);

    const samples = new Map<string, Sample[]>();
    const add = (name: string, s: Sample) => samples.set(name, [...(samples.get(name) ?? []), s]);
    const fresh = async () => {
      await psql(
        url,
        `DROP TABLE IF EXISTS ${JOB_TABLES.join(', ')}, ${JOB_TABLES.map((t) => `ref.${t}`).join(', ')}`,
      );
      await psql(url, 'CHECKPOINT');
    };

    for (let pass = 1; pass <= REPEAT; pass++) {
      log(`pass ${pass} of ${REPEAT}`);
      const dir = path.join(ws.tmp, `job-${pass}`);
      const inbox = path.join(dir, 'inbox');
      const backup = path.join(dir, 'backup');
      await mkdir(inbox, { recursive: true });
      await mkdir(backup, { recursive: true });

      // Sluice: the example pipeline as it is (onLoad: delete, so the report goes in as a hard link), under
      // a name of its own per pass so that the ledger does not skip the file.
      await fresh();
      await link(ws.sluiceFile, path.join(inbox, 'report_bench.txt'));
      const pipelineFile = path.join(dir, 'visits.yaml');
      await writeFile(pipelineFile, example.replace(/^name: visits$/m, `name: visits-bench-${Date.now()}`));
      const t = await timed(SLUICE, ['run', pipelineFile, '--json', '--as-of', AS_OF], {
        env: { ...env, VISITS_SOURCE: inbox, VISITS_BACKUP_DIR: backup },
      });
      const summary = parseSummary(t.stdout);
      if (t.code !== 0 || summary.status !== 'succeeded' || summary.filesLoaded !== 1)
        throw new Error(
          `the visitor job failed: ${JSON.stringify(summary.error ?? summary)} ${t.stderr.slice(-1000)}`,
        );
      add('sluice', { ...sample(t), timings: summary.timings });
      log(`  Sluice visitor job: ${t.seconds.toFixed(2)} s, ${Math.round(t.peakRssKb / 1024)} MB`);
      if ((await readdir(backup)).join() !== `visitas_${AS_OF.replaceAll('-', '')}.zip`)
        throw new Error(`the archive holds ${(await readdir(backup)).join(', ')}`);

      // The hand-written script, then zip -6 of the same file.
      const s = await timed('psql', ['-X', '-q', '-v', `as_of=${AS_OF}`, '-d', url, '-f', scriptFile], {
        env: { ...env, PGOPTIONS: '-c search_path=ref' },
      });
      if (s.code !== 0) throw new Error(`the psql script failed: ${s.stderr}`);
      add('psql script', sample(s));
      const z = await timed('zip', ['-6', '-q', '-j', path.join(dir, 'ref.zip'), ws.sluiceFile]);
      if (z.code !== 0) throw new Error(`zip failed: ${z.stderr}`);
      add('zip -6', sample(z));
      log(`  psql script ${s.seconds.toFixed(2)} s + zip -6 ${z.seconds.toFixed(2)} s`);

      const counts = async (schema: string) =>
        psql(
          url,
          `SELECT concat_ws(' ', ${JOB_TABLES.map((tb) => `(SELECT count(*) FROM ${schema}.${tb})`).join(', ')},
             (SELECT sum(total_visits) || '/' || sum(visits_current_year) || '/' || sum(visits_current_month)
                FROM ${schema}.visitor))`,
        );
      const [ours, theirs] = [await counts('public'), await counts('ref')];
      if (ours !== theirs) throw new Error(`the two jobs differ: Sluice ${ours}, script ${theirs}`);
      await rm(dir, { recursive: true, force: true });
    }

    const m = (name: string) => median((samples.get(name) ?? []).map((x) => x.seconds));
    const sluice = m('sluice');
    const reference = m('psql script') + m('zip -6');
    const ratio = Math.round((reference / sluice) * 1000) / 1000;
    const rss = Math.max(...(samples.get('sluice') ?? []).map((x) => x.peakRssMb));
    const timings = (samples.get('sluice') ?? []).find((x) => x.seconds === sluice)?.timings ?? {};
    process.stdout.write(
      `\nVisitor job, ${ROWS.toLocaleString('en')} rows (median of ${REPEAT}; all runs in brackets)\n` +
        `  psql script              ${m('psql script').toFixed(2)} s  [${runs(samples, 'psql script')}]\n` +
        `  zip -6                   ${m('zip -6').toFixed(2)} s  [${runs(samples, 'zip -6')}]\n` +
        `  script + zip             ${reference.toFixed(2)} s  reference\n` +
        `  Sluice                   ${sluice.toFixed(2)} s  [${runs(samples, 'sluice')}]  ${(ratio * 100).toFixed(0)} % of the reference's speed, peak RSS ${rss} MB\n` +
        `  Sluice's steps (s): ${Object.entries(timings)
          .map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`)
          .join(', ')}\n` +
        `  archive: Sluice's step after the commit ${((timings.archive ?? 0) / 1000).toFixed(2)} s (deflated during ` +
        `the load) against zip -6 of the same file ${m('zip -6').toFixed(2)} s\n` +
        `  ${ratio >= 1 ? 'met    ' : 'NOT MET'}  Sluice ≤ 1.0 × (script + zip)\n`,
    );
    const out = path.join(ROOT, 'bench', 'out');
    await mkdir(out, { recursive: true });
    await writeFile(
      path.join(out, 'visits-job.json'),
      JSON.stringify({ rows: ROWS, repeat: REPEAT, ratio, samples: Object.fromEntries(samples) }, null, 2) +
        '\n',
    );
    return { met: ratio >= 1, ratio };
  } finally {
    await rm(ws.tmp, { recursive: true, force: true });
    if (process.env.BENCH_KEEP_DATABASE !== '1') await dropDatabase(DATABASE).catch(() => undefined);
  }
}

function runs(samples: Map<string, Sample[]>, name: string): string {
  return (samples.get(name) ?? []).map((x) => x.seconds.toFixed(2)).join(' ');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { met } = await runVisitsJobBench();
  process.exitCode = met ? 0 : 1;
}
