import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { localDate } from '../core/dates.js';
import { formatDuration } from '../core/duration.js';
import { describeError, errorMessage, isSluiceError, SluiceError } from '../core/errors.js';
import type {
  BatchResult,
  FetchedFile,
  FileOutcome,
  FileSourceSession,
  LoadSession,
  LoadUnit,
  ParserPlugin,
  PluginContext,
  RecordUnit,
  SourceFile,
} from '../core/plugin.js';
import { isRecordSource } from '../core/plugin.js';
import type { RecordBatch } from '../core/records.js';
import type { Registry } from '../core/registry.js';
import { withRetry, type RetryPolicy } from '../core/retry.js';
import type { PipelineSpec } from '../core/spec.js';
import type { SqlClient } from '../core/sql.js';
import type { Database } from '../store/database.js';
import { sqlState } from '../core/database-errors.js';
import {
  findLoaded,
  markArchived,
  recordFile,
  runHasLoads,
  setFileCounts,
  type LedgerEntry,
  type NewLedgerEntry,
} from '../store/ledger.js';
import { releaseLease, renewLease, takeLease } from '../store/leases.js';
import {
  addRunCounts,
  finishRun,
  heartbeat,
  lastSuccessfulStart,
  startRun,
  type FileCounts,
} from '../store/runs.js';
import { saveState, stateReader } from '../store/state.js';
import { createMailStore } from '../store/mail-store.js';
import { StepLog, type LogEntry } from '../store/step-log.js';
import { addToZip, archiveName } from './archive.js';
import { createCheckStage } from './check-stage.js';
import { sha256File } from './file-hash.js';
import { RejectSpool } from './reject-spool.js';

export interface RunOptions {
  db: Database;
  spec: PipelineSpec;
  registry: Registry;
  /** Sluice's folder: scratch space and fallback logs live under it. */
  home: string;
  /** `YYYY-MM-DD`; today by default (or the date of the run being resumed). */
  asOf?: string;
  /** Run everything in one transaction that is rolled back; touch no file. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onLog?: (entry: LogEntry) => void;
  onProgress?: (progress: Progress) => void;
  /** Store debug entries in the log table too. */
  verbose?: boolean;
  /** Run even inside the pipeline's refresh window. */
  force?: boolean;
}

export interface Progress {
  file: string | null;
  filesSeen: number;
  filesTotal: number;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
}

export interface FileReport {
  name: string;
  status: FileOutcome;
  reason?: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  /** The ledger entry of a loaded file. */
  ledgerId?: string;
  /** State a record unit saved with its load (its watermark). */
  state?: Record<string, unknown>;
}

export interface RunSummary extends FileCounts {
  runId: string;
  pipeline: string;
  /** `skipped`: inside the refresh window; nothing ran and no run was recorded. */
  status: 'succeeded' | 'failed' | 'skipped';
  asOf: string;
  dryRun: boolean;
  resumed: boolean;
  files: FileReport[];
  archive?: string;
  durationMs: number;
  timings: Record<string, number>;
  error?: { code: string; message: string };
  skipReason?: string;
  /** Everything logged as a warning (decoding trouble, skipped entries, renamed columns), for the user. */
  warnings: string[];
}

/** Rolls back the dry run's one transaction while carrying its result out. */
class DryRunDone extends Error {
  constructor(readonly summary: RunSummary) {
    super('dry run rolled back');
  }
}

/**
 * Runs a pipeline once: every file from the source is loaded (rows, ledger entry, rejects and counts in
 * one transaction), skipped (same content already loaded) or rejected whole (layout). Archive and source
 * clean-up happen only after the commits. Holds the pipeline's lock throughout.
 */
export async function runPipeline(options: RunOptions): Promise<RunSummary> {
  const { db, spec } = options;
  const lock = await db.tryLock(`sluice:pipeline:${spec.name}`);
  if (!lock) throw await alreadyRunning(db, spec.name);
  try {
    const skipped = await insideRefreshWindow(options);
    if (skipped) return skipped;
    if (!options.dryRun) return await execute(options, db, normalTransactions(db));
    try {
      await db.transaction(async (outer) => {
        throw new DryRunDone(await execute(options, outer, savepointTransactions(outer)));
      });
    } catch (error) {
      if (error instanceof DryRunDone) return error.summary;
      throw error;
    }
    throw new Error('unreachable');
  } finally {
    await lock.release();
  }
}

/** A skipped summary when the last successful run is more recent than `run.refreshEvery` (and not forced). */
async function insideRefreshWindow(options: RunOptions): Promise<RunSummary | undefined> {
  const { spec } = options;
  const every = spec.run.refreshEveryMs;
  if (!every || options.force || options.dryRun) return undefined;
  const last = await lastSuccessfulStart(options.db, spec.name);
  if (!last || Date.now() - last.getTime() >= every) return undefined;
  const next = new Date(last.getTime() + every);
  const reason = `last successful run started ${last.toISOString()}; refresh every ${formatDuration(every)}, next after ${next.toISOString()} (use --force to run now)`;
  return {
    runId: '',
    pipeline: spec.name,
    status: 'skipped',
    skipReason: reason,
    asOf: options.asOf ?? localDate(),
    dryRun: false,
    resumed: false,
    files: [],
    durationMs: 0,
    timings: {},
    warnings: [],
    rowsRead: 0,
    rowsLoaded: 0,
    rowsRejected: 0,
    filesLoaded: 0,
    filesRejected: 0,
    filesSkipped: 0,
  };
}

/** How often a run says it is alive (runs row and lease). */
const HEARTBEAT_MS = 15_000;

type InTransaction = <T>(work: (tx: SqlClient) => Promise<T>) => Promise<T>;

const normalTransactions =
  (db: Database): InTransaction =>
  (work) =>
    db.transaction(work);

/** In a dry run each file still commits or fails alone, as a savepoint of the one outer transaction. */
function savepointTransactions(outer: SqlClient): InTransaction {
  return async (work) => {
    await outer.query('SAVEPOINT sluice_unit');
    try {
      const result = await work(outer);
      await outer.query('RELEASE SAVEPOINT sluice_unit');
      return result;
    } catch (error) {
      await outer.query('ROLLBACK TO SAVEPOINT sluice_unit');
      throw error;
    }
  };
}

async function alreadyRunning(db: SqlClient, pipeline: string): Promise<SluiceError> {
  const { rows } = await db.query<{ id: string; started_at: string; host: string; pid: number }>(
    `SELECT id, started_at, host, pid FROM sluice.runs WHERE pipeline = $1 AND status = 'running' ORDER BY started_at DESC LIMIT 1`,
    [pipeline],
  );
  const run = rows[0];
  const detail = run ? ` since ${run.started_at}, run ${run.id} (process ${run.pid} on ${run.host})` : '';
  return new SluiceError('PIPELINE_RUNNING', `pipeline ${pipeline} is already running${detail}`, {
    hint: 'Wait for it to finish; a pipeline never runs twice at once.',
  });
}

interface Pending {
  file: SourceFile;
  fetched: FetchedFile;
  outcome: FileOutcome;
  /** Ledger id to mark archived, when the content goes into the archive. */
  archiveAs?: string;
}

async function execute(
  options: RunOptions,
  db: SqlClient,
  inTransaction: InTransaction,
): Promise<RunSummary> {
  const { spec, registry } = options;
  const started = performance.now();
  const dryRun = options.dryRun ?? false;
  const run = await startRun(db, {
    pipeline: spec.name,
    asOf: options.asOf,
    dryRun,
    today: localDate(),
    ...(spec.run.maxRunTimeMs ? { maxRunMs: spec.run.maxRunTimeMs } : {}),
    ...(spec.file !== '<inline>' ? { specFile: path.resolve(spec.file) } : {}),
  });
  const previousHolder = dryRun ? undefined : await takeLease(db, spec.name, run.id);
  const warnings: string[] = [];
  const log = new StepLog(
    db,
    { runId: run.id, pipeline: spec.name, fallbackDir: path.join(options.home, 'logs') },
    (entry) => {
      if (entry.level === 'warn') warnings.push(entry.message);
      options.onLog?.(entry);
    },
    options.verbose,
  );
  const workDir = path.join(options.home, 'work', run.id);
  await mkdir(workDir, { recursive: true });
  const abort = new AbortController();
  options.signal?.addEventListener('abort', () => abort.abort(options.signal?.reason), { once: true });
  const context: PluginContext = {
    logger: log,
    signal: abort.signal,
    workDir,
    dryRun,
    state: stateReader(db, spec.name),
    mail: createMailStore(db),
  };
  const timings: Record<string, number> = {};
  const time = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      timings[step] = Math.round((timings[step] ?? 0) + performance.now() - t0);
    }
  };
  const summary: RunSummary & { status: 'succeeded' | 'failed' } = {
    runId: run.id,
    pipeline: spec.name,
    status: 'succeeded',
    asOf: run.asOf,
    dryRun,
    resumed: run.resumed,
    files: [],
    rowsRead: 0,
    rowsLoaded: 0,
    rowsRejected: 0,
    filesLoaded: 0,
    filesRejected: 0,
    filesSkipped: 0,
    durationMs: 0,
    timings,
    warnings,
  };
  const progress = () =>
    options.onProgress?.({
      file: current,
      filesSeen: summary.files.length,
      filesTotal,
      rowsRead: summary.rowsRead + fileRows.read,
      rowsLoaded: summary.rowsLoaded,
      rowsRejected: summary.rowsRejected + fileRows.rejected,
    });
  let current: string | null = null;
  let filesTotal = 0;
  const fileRows = { read: 0, rejected: 0 };

  log.info(
    run.resumed
      ? `resuming run ${run.id} of ${spec.name} (as of ${run.asOf})`
      : `run ${run.id} of ${spec.name} started (as of ${run.asOf})`,
    {
      dryRun,
    },
  );
  // Keeps the run visibly alive for other processes (and for stale-run clean-up).
  if (previousHolder) {
    log.warn(
      `took over the lease of run ${previousHolder.runId} (process ${previousHolder.pid} on ${previousHolder.host}, last heartbeat ${previousHolder.heartbeatAt}): its process is gone`,
    );
  }
  const beat = dryRun
    ? undefined
    : setInterval(
        () =>
          void heartbeat(db, run.id)
            .then(() => renewLease(db, spec.name, run.id))
            .catch(() => undefined),
        HEARTBEAT_MS,
      );
  const maxRunTimer = spec.run.maxRunTimeMs
    ? setTimeout(
        () =>
          abort.abort(
            new SluiceError(
              'ABORTED',
              `the run took longer than its maximum run time (${formatDuration(spec.run.maxRunTimeMs!)})`,
            ),
          ),
        spec.run.maxRunTimeMs,
      )
    : undefined;
  const pending: Pending[] = [];
  let source: FileSourceSession | undefined;
  let closeSource: (() => Promise<void>) | undefined;
  try {
    const anySource = registry.get('source', spec.source.type);
    const loaderPlugin = registry.get('loader', spec.load.type);
    const check = spec.check ? createCheckStage(spec.check, registry) : undefined;
    const transforms = spec.transform.map((t) =>
      registry.get('transform', t.type).create(t.options, context),
    );
    const loader: LoadSession = await loaderPlugin.open(spec.load.options, context);
    const openSource = <T>(open: () => Promise<T>) =>
      time('connect', () => withRetry(open, retryLog(log, 'connecting to the source', spec.run.retry)));
    const startLoader = () =>
      inTransaction(async (tx) => {
        await setLoadContext(tx, { runId: run.id, asOf: run.asOf });
        await loader.startRun(tx, { runId: run.id, asOf: run.asOf });
      });

    if (isRecordSource(anySource)) {
      const session = await openSource(() => anySource.open(spec.source.options, context));
      closeSource = () => session.close();
      log.info(`source ${session.location}`);
      await startLoader();
      for await (const unit of session.units()) {
        if (abort.signal.aborted) throw abortError(abort.signal);
        current = unit.name;
        fileRows.read = 0;
        fileRows.rejected = 0;
        progress();
        const report = await withRetry(
          () =>
            time('load', () =>
              loadUnit({
                unit,
                spec,
                check,
                transforms,
                loader,
                nonTransactional: !loaderPlugin.capabilities.transactional,
                context,
                inTransaction,
                runId: run.id,
                asOf: run.asOf,
                fileRows,
                progress,
              }),
            ),
          retryLog(log, `loading ${unit.name}`, spec.run.retry),
        ).catch((error: unknown) => {
          throw inFile(abort.signal.aborted ? abortError(abort.signal) : error, unit.name);
        });
        summary.files.push(report);
        fileRows.read = 0;
        fileRows.rejected = 0;
        summary.rowsRead += report.rowsRead;
        summary.rowsLoaded += report.rowsLoaded;
        summary.rowsRejected += report.rowsRejected;
        log.info(`loaded ${unit.name}: ${report.rowsLoaded} rows, ${report.rowsRejected} rejected`, {
          rowsRead: report.rowsRead,
          ...(report.state ? { state: report.state } : {}),
        });
        progress();
      }
    } else {
      if (!spec.parse)
        throw new SluiceError('CONFIG_INVALID', `the ${anySource.name} source gives files: add parse:`);
      const parser = registry.get('parser', spec.parse.type);
      const parseOptions = spec.parse.options;
      const sourcePlugin = anySource;
      source = await openSource(() => sourcePlugin.open(spec.source.options, context));
      const fileSource = source;
      closeSource = () => fileSource.close();
      log.info(`source ${source.location}`);
      await startLoader();

      // Listing first gives the progress bar its total; a listing is names only.
      const files: SourceFile[] = [];
      for await (const file of source.list()) files.push(file);
      filesTotal = files.length;
      log.info(`${files.length} files to consider`);
      for (const file of files) {
        if (abort.signal.aborted) throw abortError(abort.signal);
        current = file.name;
        fileRows.read = 0;
        fileRows.rejected = 0;
        progress();
        const fetched = await time('fetch', () =>
          withRetry(() => source!.fetch(file), retryLog(log, `fetching ${file.name}`, spec.run.retry)),
        );
        const sha256 = await time('hash', () => sha256File(fetched.path));
        const ledgerBase = {
          pipeline: spec.name,
          runId: run.id,
          source: source.location,
          name: file.name,
          size: fetched.size,
          sha256,
        };

        // Content loaded before (under any name) is skipped; the ledger says which entry it repeats.
        const skip = async (loaded: LedgerEntry) => {
          const reason = `same content as ${loaded.name}, loaded in run ${loaded.run_id}`;
          await inTransaction(async (tx) => {
            await recordFile(tx, { ...ledgerBase, status: 'skipped', reason, duplicateOf: loaded.id });
            await addRunCounts(tx, run.id, { filesSkipped: 1 });
            if (file.state) await saveState(tx, spec.name, run.id, file.state);
          });
          log.info(`skipped ${file.name}: ${reason}`);
          // A crash after the original's commit may have kept it out of the archive: archive it now (once).
          const archived = loaded.archived_at !== null || pending.some((p) => p.archiveAs === loaded.id);
          pending.push({ file, fetched, outcome: 'skipped', ...(archived ? {} : { archiveAs: loaded.id }) });
          return {
            name: file.name,
            status: 'skipped' as const,
            reason,
            rowsRead: 0,
            rowsLoaded: 0,
            rowsRejected: 0,
          };
        };

        const loaded = await findLoaded(db, spec.name, sha256);
        const report: FileReport = loaded
          ? await skip(loaded)
          : await withRetry(
              () =>
                time('load', () =>
                  loadFile({
                    file,
                    fetched,
                    ledgerBase,
                    spec,
                    parser,
                    parseOptions: parseOptions,
                    check,
                    transforms,
                    loader,
                    context,
                    inTransaction,
                    runId: run.id,
                    asOf: run.asOf,
                    fileRows,
                    progress,
                  }),
                ),
              retryLog(log, `loading ${file.name}`, spec.run.retry),
            ).catch(async (error: unknown): Promise<FileReport> => {
              if (isLedgerConflict(error)) {
                // Another process committed the same content while this one was loading it.
                const first = await findLoaded(db, spec.name, sha256);
                if (first) return skip(first);
              }
              if (isSluiceError(error, 'LAYOUT_MISMATCH', 'PARSE_FAILED', 'TARGET_MISMATCH')) {
                return rejectFile(inTransaction, { ...ledgerBase, error, runId: run.id }, file.state);
              }
              throw inFile(error, file.name);
            });
        summary.files.push(report);
        fileRows.read = 0; // now counted in the summary
        fileRows.rejected = 0;
        summary.rowsRead += report.rowsRead;
        summary.rowsLoaded += report.rowsLoaded;
        summary.rowsRejected += report.rowsRejected;
        if (report.status === 'loaded') {
          summary.filesLoaded++;
          log.info(`loaded ${file.name}: ${report.rowsLoaded} rows, ${report.rowsRejected} rejected`, {
            rowsRead: report.rowsRead,
          });
        } else if (report.status === 'rejected') {
          summary.filesRejected++;
          log.warn(`rejected ${file.name}: ${report.reason}`);
        } else {
          summary.filesSkipped++;
        }
        if (report.status !== 'skipped') {
          pending.push({
            file,
            fetched,
            outcome: report.status,
            ...(report.status === 'loaded' && report.ledgerId ? { archiveAs: report.ledgerId } : {}),
          });
        }
        progress();
        if (!spec.archive) await settleAll(); // nothing to archive first: tidy the source as we go
      }
    }
    current = null;
    await time('finish', () =>
      inTransaction(async (tx) => {
        await setLoadContext(tx, { runId: run.id, asOf: run.asOf });
        const loadedAny =
          (await runHasLoads(tx, run.id)) || (await runHasUnitLoads(tx, run.id)) || summary.filesLoaded > 0;
        await loader.finishRun(tx, { runId: run.id, asOf: run.asOf, loadedAny });
      }),
    );
  } catch (error) {
    summary.status = 'failed';
    summary.error = { code: isSluiceError(error) ? error.code : 'INTERNAL', message: describeError(error) };
    log.error(
      `run failed: ${describeError(error)}`,
      isSluiceError(error) ? { code: error.code } : { stack: (error as Error)?.stack ?? errorMessage(error) },
    );
  }

  // Side effects outside the database, for what committed only — also when a later file failed the run.
  try {
    if (!dryRun) await settleAll();
  } catch (error) {
    summary.status = 'failed';
    summary.error ??= { code: isSluiceError(error) ? error.code : 'INTERNAL', message: describeError(error) };
    log.error(`after the loads: ${describeError(error)}`);
  } finally {
    if (beat) clearInterval(beat);
    if (maxRunTimer) clearTimeout(maxRunTimer);
    if (!dryRun) await releaseLease(db, spec.name, run.id).catch(() => undefined);
    await closeSource?.().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }

  summary.durationMs = Math.round(performance.now() - started);
  await finishRun(db, run.id, {
    status: summary.status,
    timings,
    ...(summary.error ? { errorCode: summary.error.code, error: summary.error.message } : {}),
  });
  log.info(
    `run ${summary.status}: ${summary.filesLoaded} files loaded, ${summary.filesSkipped} skipped, ${summary.filesRejected} rejected; ${summary.rowsLoaded} rows loaded, ${summary.rowsRejected} rejected`,
    { durationMs: summary.durationMs },
  );
  await log.flush();
  return summary;

  async function settleAll() {
    const batch = pending.splice(0);
    if (batch.length === 0) return;
    if (spec.archive && !dryRun) {
      const toArchive = batch.filter((p) => p.archiveAs);
      if (toArchive.length > 0) {
        const zip = path.resolve(spec.archive.dir, archiveName(spec.archive.name, summary.asOf, spec.name));
        await time('archive', () =>
          addToZip(
            zip,
            toArchive.map((p) => ({ path: p.fetched.path, name: p.file.name })),
          ),
        );
        await markArchived(
          db,
          toArchive.map((p) => p.archiveAs!),
          zip,
        );
        summary.archive = zip;
        log.info(`archived ${toArchive.length} files into ${zip}`);
      }
    }
    for (const p of batch) {
      if (!dryRun) await time('settle', () => source!.settle(p.file, p.outcome));
      if (p.fetched.temporary) await rm(p.fetched.path, { force: true });
    }
  }
}

/** The unique index that lets a content hash load once per pipeline. */
function isLedgerConflict(error: unknown): boolean {
  const inner = isSluiceError(error) ? error.cause : error;
  return (
    sqlState(error) === '23505' &&
    (inner as { constraint?: string } | undefined)?.constraint === 'files_loaded_once'
  );
}

/** A load failure, said with the file it happened in. */
function inFile(error: unknown, file: string): unknown {
  if (!isSluiceError(error)) return error;
  return new SluiceError(error.code, `${file}: ${error.message}`, {
    cause: error.cause ?? error,
    retryable: error.retryable,
    ...(error.where ? { where: error.where } : {}),
    ...(error.hint ? { hint: error.hint } : {}),
  });
}

/** What SQL steps can read through sluice.run_id(), sluice.as_of(), sluice.file_name(), sluice.file_id(). */
async function setLoadContext(
  tx: SqlClient,
  c: { runId: string; asOf: string; fileName?: string; fileId?: string },
) {
  await tx.query(
    `SELECT set_config('sluice.run_id', $1, true), set_config('sluice.as_of', $2, true),
            set_config('sluice.file_name', $3, true), set_config('sluice.file_id', $4, true)`,
    [c.runId, c.asOf, c.fileName ?? '', c.fileId ?? ''],
  );
}

function retryLog(log: StepLog, what: string, policy: RetryPolicy) {
  return {
    policy,
    onRetry: (error: unknown, attempt: number, delayMs: number) =>
      log.warn(`${what} failed (attempt ${attempt}), retrying in ${delayMs} ms: ${errorMessage(error)}`),
  };
}

/** What every ledger entry of a file carries, whatever becomes of it. */
type LedgerBase = Omit<NewLedgerEntry, 'status' | 'reason' | 'duplicateOf'>;

/** What loading rows needs, whatever they come from. */
interface LoadStages {
  spec: PipelineSpec;
  check: ((input: BatchResult) => BatchResult) | undefined;
  transforms: ((input: BatchResult) => BatchResult)[];
  loader: LoadSession;
  context: PluginContext;
  inTransaction: InTransaction;
  runId: string;
  asOf: string;
  fileRows: { read: number; rejected: number };
  progress: () => void;
}

interface RowCounts {
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
}

/**
 * Rows of one unit (a file, a table) through the checks and transforms into the loader, inside `tx`: the
 * rejects (the checks' and the loader's) are spooled and copied into `sluice.rejects` in the same
 * transaction, then the loader's SQL steps run.
 */
async function loadRows(
  tx: SqlClient,
  a: LoadStages,
  input: {
    origin: string;
    key: string;
    firstOfRun: boolean;
    fileId: string | null;
    read: () => AsyncIterable<BatchResult>;
    uniqueBy?: readonly string[];
  },
): Promise<RowCounts> {
  const spool = new RejectSpool(path.join(a.context.workDir, `rejects-${randomUUID()}.copy`), {
    runId: a.runId,
    pipeline: a.spec.name,
    fileId: input.fileId,
  });
  let rowsRead = 0;
  let rowsRejected = 0;
  const { fileRows, context } = a;
  fileRows.read = 0;
  fileRows.rejected = 0;
  async function* batches(): AsyncIterable<RecordBatch> {
    for await (const read of input.read()) {
      if (context.signal.aborted) throw abortError(context.signal);
      rowsRead += read.batch.rows.length + read.rejectedRows; // before the checks take rows out
      let result = a.check ? a.check(read) : read;
      for (const transform of a.transforms) result = transform(result);
      rowsRejected += result.rejectedRows;
      fileRows.read = rowsRead;
      fileRows.rejected = rowsRejected;
      await spool.add(result.rejects);
      a.progress();
      yield result.batch;
    }
  }
  try {
    const unit: LoadUnit = {
      runId: a.runId,
      asOf: a.asOf,
      origin: input.origin,
      key: input.key,
      firstOfRun: input.firstOfRun,
      ...(input.uniqueBy ? { uniqueBy: input.uniqueBy } : {}),
      // Rows the loader refuses (a null merge key) are rejects of this unit like the check's.
      reject: async (rejects) => {
        rowsRejected += rejects.length;
        fileRows.rejected = rowsRejected;
        await spool.add(rejects);
      },
    };
    const { rowsLoaded } = await a.loader.load(tx, batches(), unit);
    await spool.flush(tx);
    await a.loader.afterLoad(tx, unit);
    return { rowsRead, rowsLoaded, rowsRejected };
  } finally {
    await spool.discard();
  }
}

interface LoadFileArgs extends LoadStages {
  file: SourceFile;
  fetched: FetchedFile;
  ledgerBase: LedgerBase;
  parser: ParserPlugin;
  parseOptions: unknown;
}

/** One file in one transaction: ledger entry, rows, rejects and run counts commit together or not at all. */
async function loadFile(a: LoadFileArgs): Promise<FileReport> {
  return a.inTransaction(async (tx) => {
    const firstOfRun = !(await runHasLoads(tx, a.runId));
    const fileId = await recordFile(tx, { ...a.ledgerBase, status: 'loaded' });
    await setLoadContext(tx, { runId: a.runId, asOf: a.asOf, fileName: a.file.name, fileId });
    const counts = await loadRows(tx, a, {
      origin: a.file.name,
      key: a.ledgerBase.sha256,
      firstOfRun,
      fileId,
      read: () =>
        a.parser.parse(
          { stream: createReadStream(a.fetched.path, { highWaterMark: 1 << 18 }), origin: a.file.name },
          a.parseOptions,
          a.context,
        ),
    });
    await setFileCounts(tx, fileId, counts);
    await addRunCounts(tx, a.runId, { ...counts, filesLoaded: 1 });
    if (a.file.state) await saveState(tx, a.spec.name, a.runId, a.file.state);
    return { name: a.file.name, status: 'loaded' as const, ...counts, ledgerId: fileId };
  });
}

/** A file that breaks the layout: nothing of it loads; the ledger and one reject say why. */
async function rejectFile(
  inTransaction: InTransaction,
  a: LedgerBase & { error: SluiceError },
  state: Record<string, unknown> | undefined,
): Promise<FileReport> {
  const reason = a.error.message;
  const line = Number(/:(\d+)(?::\d+)?$/.exec(a.error.where ?? '')?.[1]) || null;
  await inTransaction(async (tx) => {
    const fileId = await recordFile(tx, { ...a, status: 'rejected', reason });
    await tx.query(
      `INSERT INTO sluice.rejects (run_id, pipeline, file_id, file, line, rule, message) VALUES ($1, $2, $3, $4, $5, 'layout', $6)`,
      [a.runId, a.pipeline, fileId, a.name, line, reason],
    );
    await addRunCounts(tx, a.runId, { filesRejected: 1 });
    if (state) await saveState(tx, a.pipeline, a.runId, state);
  });
  return { name: a.name, status: 'rejected', reason, rowsRead: 0, rowsLoaded: 0, rowsRejected: 0 };
}

/** Why a run stopped: its maximum run time, or whoever aborted it. */
function abortError(signal: AbortSignal): SluiceError {
  const reason: unknown = signal.reason;
  return isSluiceError(reason) ? reason : new SluiceError('ABORTED', 'the run was stopped');
}

interface LoadUnitArgs extends LoadStages {
  unit: RecordUnit;
  /** The loader commits elsewhere: give each attempt its own key (record sources are re-read on retry). */
  nonTransactional: boolean;
}

/**
 * One unit of a record source in one transaction: rows, rejects, run counts and the unit's state (its
 * watermark) commit together, so a failed load never moves a watermark.
 */
async function loadUnit(a: LoadUnitArgs): Promise<FileReport> {
  return a.inTransaction(async (tx) => {
    const firstOfRun = !(await runHasUnitLoads(tx, a.runId));
    await setLoadContext(tx, { runId: a.runId, asOf: a.asOf, fileName: a.unit.name });
    const counts = await loadRows(tx, a, {
      origin: a.unit.name,
      key: a.nonTransactional ? `${a.unit.key}:${randomUUID()}` : a.unit.key,
      firstOfRun,
      fileId: null,
      read: () => a.unit.read(),
      ...(a.unit.uniqueBy ? { uniqueBy: a.unit.uniqueBy } : {}),
    });
    await addRunCounts(tx, a.runId, counts);
    const state = a.unit.stateAfter?.();
    if (state && Object.keys(state).length > 0) await saveState(tx, a.spec.name, a.runId, state);
    await markUnitLoaded(tx, a.runId);
    return { name: a.unit.name, status: 'loaded' as const, ...counts, ...(state ? { state } : {}) };
  });
}

/** Units leave no ledger row: the run counts them, which tells `replace` whether one loaded yet. */
async function runHasUnitLoads(tx: SqlClient, runId: string): Promise<boolean> {
  const { rows } = await tx.query<{ n: number }>('SELECT units_loaded AS n FROM sluice.runs WHERE id = $1', [
    runId,
  ]);
  return (rows[0]?.n ?? 0) > 0;
}

async function markUnitLoaded(tx: SqlClient, runId: string): Promise<void> {
  await tx.query('UPDATE sluice.runs SET units_loaded = units_loaded + 1 WHERE id = $1', [runId]);
}
