import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { localDate } from '../core/dates.js';
import { formatDuration } from '../core/duration.js';
import { describeError, isSluiceError, SluiceError } from '../core/errors.js';
import type { LoadSession, PluginContext } from '../core/plugin.js';
import { isRecordSource } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import { withRetry } from '../core/retry.js';
import {
  emptyRunSummary,
  type FileReport,
  type Progress,
  type PublishedVersion,
  type RunSummary,
} from '../core/run-summary.js';
import type { PipelineSpec } from '../core/spec.js';
import type { SqlClient } from '../core/sql.js';
import { sendRunNotices, type SendNoticesOptions } from '../notify/send-notices.js';
import type { Database } from '../store/database.js';
import { runHasLoads } from '../store/ledger.js';
import { setLoadContext } from '../store/load-context.js';
import { createMailStore } from '../store/mail-store.js';
import {
  assertNotRunning,
  claimRun,
  DEFAULT_CLAIM_TIMEOUT_MS,
  HEARTBEAT_MS,
  newClaimer,
  startDryRun,
  type ClaimedRun,
} from '../store/run-claims.js';
import {
  addRunCounts,
  finishRun,
  lastSuccessfulStart,
  runHasUnitLoads,
  runOfRequest,
  type RunRow,
} from '../store/runs.js';
import { runFiles } from '../store/run-lookup.js';
import { StateSnapshot } from '../store/state.js';
import { StepLog, type LogEntry } from '../store/step-log.js';
import { abortError, failureOf, recordFailure } from './abort.js';
import { followSignal, keepClaim } from './claim-keeper.js';
import { createCheckStage } from './check-stage.js';
import { fileUnits } from './file-units.js';
import { loadRows, type LoadStages } from './load-rows.js';
import { recordUnits } from './record-units.js';
import { retryOptions, type InTransaction, type RunScope } from './run-scope.js';
import type { RunUnit, UnitSource } from './run-unit.js';

export type { FileReport, Progress, RunSummary } from '../core/run-summary.js';

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
  /** Stops the run: what committed stays, the run is recorded as stopped (or failed, with the reason). */
  signal?: AbortSignal;
  onLog?: (entry: LogEntry) => void;
  onProgress?: (progress: Progress) => void;
  /** Store debug entries in the log table too. */
  verbose?: boolean;
  /** Run even inside the pipeline's refresh window. */
  force?: boolean;
  /** The pipeline's notices after the run (default on); options for tests (TLS, retries), or false. */
  notices?: false | Partial<Omit<SendNoticesOptions, 'logger'>>;
  /**
   * The request the run is for (a queued job's key, an API call's id). A request whose run already ended
   * is not run again: its summary is read back (`replayed`). One still running is resumed as any run is.
   */
  requestId?: string;
}

/** Rolls back the dry run's one transaction while carrying its result out. */
class DryRunDone extends Error {
  constructor(readonly summary: RunSummary) {
    super('dry run rolled back');
  }
}

/**
 * The one entry point of a run, for the CLI, the demo, imports, the service and its workers. It claims
 * the pipeline (refusing with PIPELINE_RUNNING while a live process holds it, resuming a run that stopped
 * or whose process died), loads every unit of the source — a file: loaded, skipped or rejected whole; a
 * record unit: loaded with its state — each in one transaction with its ledger entry, rejects and counts,
 * keeps the claim alive, stops on `signal` or its maximum run time, archives and acts at the source only
 * for what committed, records the outcome, releases the claim and sends the pipeline's notices.
 */
export async function runPipeline(options: RunOptions): Promise<RunSummary> {
  const { db, spec } = options;
  if (options.requestId && !options.dryRun) {
    const earlier = await runOfRequest(db, options.requestId);
    if (earlier && earlier.status !== 'running' && earlier.status !== 'stopped')
      return replayedSummary(db, earlier);
  }
  const skipped = await insideRefreshWindow(options);
  if (skipped) return skipped;
  const claimer = newClaimer();
  const today = localDate();
  let summary: RunSummary;
  if (options.dryRun) {
    await assertNotRunning(db, spec.name, claimer, spec.run.claimTimeoutMs);
    try {
      await db.transaction(async (outer) => {
        const run = await startDryRun(outer, {
          pipeline: spec.name,
          today,
          claimer,
          ...(options.asOf ? { asOf: options.asOf } : {}),
        });
        throw new DryRunDone(await execute(options, run, null, outer, savepointTransactions(outer)));
      });
      throw new Error('unreachable: a dry run always rolls back');
    } catch (error) {
      if (!(error instanceof DryRunDone)) throw error;
      summary = error.summary;
    }
  } else {
    const run = await claimRun(db, {
      pipeline: spec.name,
      today,
      claimer,
      ...(options.asOf ? { asOf: options.asOf } : {}),
      ...(spec.run.claimTimeoutMs ? { claimTimeoutMs: spec.run.claimTimeoutMs } : {}),
      ...(spec.run.maxRunTimeMs ? { maxRunMs: spec.run.maxRunTimeMs } : {}),
      ...(spec.file !== '<inline>' ? { specFile: path.resolve(spec.file) } : {}),
      ...(options.requestId ? { requestId: options.requestId } : {}),
    });
    summary = await execute(options, run, claimer.id, db, (work) => db.transaction(work));
    if (options.requestId) summary.requestId = options.requestId;
  }
  return summary;
}

/** The summary of a run that already ended, read back from the ledger. */
async function replayedSummary(db: SqlClient, run: RunRow): Promise<RunSummary> {
  const files = await runFiles(db, run.id);
  return {
    ...emptyRunSummary(run.id, run.pipeline, run.as_of, run.dry_run),
    status: run.status === 'succeeded' ? 'succeeded' : run.status === 'stopped' ? 'stopped' : 'failed',
    resumed: run.attempts > 1,
    files: files.map((f) => ({
      name: f.name,
      status: f.status,
      ...(f.reason ? { reason: f.reason } : {}),
      rowsRead: Number(f.rows_loaded) + Number(f.rows_rejected),
      rowsLoaded: Number(f.rows_loaded),
      rowsRejected: Number(f.rows_rejected),
    })),
    rowsRead: Number(run.rows_read),
    rowsLoaded: Number(run.rows_loaded),
    rowsRejected: Number(run.rows_rejected),
    filesLoaded: run.files_loaded,
    filesRejected: run.files_rejected,
    filesSkipped: run.files_skipped,
    durationMs: run.ended_at ? new Date(run.ended_at).getTime() - new Date(run.started_at).getTime() : 0,
    timings: run.timings,
    ...(run.error ? { error: { code: run.error_code ?? 'INTERNAL', message: run.error } } : {}),
    ...(run.request_id ? { requestId: run.request_id } : {}),
    replayed: true,
  };
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
    ...emptyRunSummary('', spec.name, options.asOf ?? localDate(), false),
    status: 'skipped',
    skipReason: reason,
  };
}

/** In a dry run each unit still commits or fails alone, as a savepoint of the one outer transaction. */
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

/** One attempt of a claimed run (or of a dry run, inside its transaction), from open to notices. */
async function execute(
  options: RunOptions,
  run: ClaimedRun,
  claimer: string | null,
  db: SqlClient,
  inTransaction: InTransaction,
): Promise<RunSummary> {
  const { spec, registry } = options;
  const started = performance.now();
  const dryRun = options.dryRun ?? false;
  const summary = { ...emptyRunSummary(run.id, spec.name, run.asOf, dryRun), resumed: run.resumed };
  const log = new StepLog(
    db,
    { runId: run.id, pipeline: spec.name, fallbackDir: path.join(options.home, 'logs') },
    (entry) => {
      if (entry.level === 'warn') summary.warnings.push(entry.message);
      if (entry.data?.outcome === true) (summary.outcomes ??= []).push(entry.message);
      if (isPublished(entry.data?.published)) (summary.published ??= []).push(entry.data.published);
      options.onLog?.(entry);
    },
    options.verbose,
  );
  const workDir = path.join(options.home, 'work', run.id);
  await mkdir(workDir, { recursive: true });
  const abort = new AbortController();
  const stopFollowing = followSignal(options.signal, abort);
  const state = await StateSnapshot.read(db, spec.name);
  const context: PluginContext = {
    logger: log,
    signal: abort.signal,
    workDir,
    dryRun,
    state,
    mail: createMailStore(db),
  };
  const timings = summary.timings;
  const time = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      timings[step] = Math.round((timings[step] ?? 0) + performance.now() - t0);
    }
  };
  const scope: RunScope = {
    spec,
    runId: run.id,
    asOf: run.asOf,
    claimer,
    dryRun,
    db,
    inTransaction,
    context,
    log,
    state,
    time,
    retry: retryOptions(log, spec.run.retry, abort.signal),
  };
  let current: string | null = null;
  let filesTotal = 0;
  const unitRows = { read: 0, rejected: 0 };
  const progress = () =>
    options.onProgress?.({
      file: current,
      filesSeen: summary.files.length,
      filesTotal,
      rowsRead: summary.rowsRead + unitRows.read,
      rowsLoaded: summary.rowsLoaded,
      rowsRejected: summary.rowsRejected + unitRows.rejected,
    });

  log.info(
    run.resumed
      ? `resuming run ${run.id} of ${spec.name} (as of ${run.asOf})`
      : `run ${run.id} of ${spec.name} started (as of ${run.asOf})`,
    { dryRun },
  );
  if (run.takenOverFrom) {
    const t = run.takenOverFrom;
    log.warn(
      `took over run ${run.id} from process ${t.pid} on ${t.host} (last heartbeat ${t.heartbeatAt}): its process is gone`,
    );
  }
  // A dry run holds no claim (it runs inside one transaction that rolls back).
  const stopBeating =
    claimer === null
      ? undefined
      : keepClaim(db, run.id, claimer, heartbeatMs(spec.run.claimTimeoutMs), abort);
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

  let source: UnitSource | undefined;
  try {
    const loaderPlugin = registry.get('loader', spec.load.type);
    const check = spec.check ? createCheckStage(spec.check, registry) : undefined;
    const transforms = spec.transform.map((t) =>
      registry.get('transform', t.type).create(t.options, context),
    );
    const loader: LoadSession = await loaderPlugin.open(spec.load.options, context);
    source = await time('connect', () => openUnits(scope, options, loader.target ?? spec.load.type));
    log.info(`source ${source.location}`);
    filesTotal = source.total;
    await inTransaction(async (tx) => {
      await setLoadContext(tx, { runId: run.id, asOf: run.asOf });
      await loader.startRun(tx, { runId: run.id, asOf: run.asOf });
    });
    const stages: LoadStages = {
      pipeline: spec.name,
      runId: run.id,
      asOf: run.asOf,
      check,
      transforms,
      loader,
      context,
      onRows: (read, rejected) => {
        unitRows.read = read;
        unitRows.rejected = rejected;
        progress();
      },
    };

    for await (const unit of source.units()) {
      if (abort.signal.aborted) throw abortError(abort.signal);
      current = unit.name;
      unitRows.read = 0;
      unitRows.rejected = 0;
      progress();
      const report = await runUnit(scope, stages, unit);
      account(summary, report, log);
      unitRows.read = 0; // now counted in the summary
      unitRows.rejected = 0;
      await unit.done(report);
      progress();
    }
    current = null;
    for (const transform of transforms) {
      const outcome = transform.outcome?.();
      if (outcome) log.info(outcome, { outcome: true });
    }
    await time('finish', () =>
      inTransaction(async (tx) => {
        await setLoadContext(tx, { runId: run.id, asOf: run.asOf });
        const loadedAny =
          summary.filesLoaded > 0 || (await runHasLoads(tx, run.id)) || (await runHasUnitLoads(tx, run.id));
        await loader.finishRun(tx, { runId: run.id, asOf: run.asOf, loadedAny });
      }),
    );
    if (loader.publish && !dryRun) {
      const publish = loader.publish.bind(loader);
      await time('publish', () => publish({ runId: run.id, asOf: run.asOf }, db));
    }
  } catch (error) {
    recordFailure(summary, error, abort.signal, log, 'run');
  }

  // Side effects outside the database, for what committed only — also when a later unit failed the run.
  try {
    await source?.afterLoads();
  } catch (error) {
    summary.status = 'failed';
    summary.error ??= { code: isSluiceError(error) ? error.code : 'INTERNAL', message: describeError(error) };
    log.error(`after the loads: ${describeError(error)}`);
  } finally {
    stopBeating?.();
    if (maxRunTimer) clearTimeout(maxRunTimer);
    stopFollowing();
    await source?.close().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
  const archive = source?.archive();
  if (archive) summary.archive = archive;

  summary.durationMs = Math.round(performance.now() - started);
  const closed = await finishRun(db, run.id, claimer, {
    status: summary.status === 'skipped' ? 'succeeded' : summary.status,
    timings,
    ...(summary.error ? { errorCode: summary.error.code, error: summary.error.message } : {}),
  });
  if (!closed && claimer !== null)
    log.warn(`run ${run.id} was taken over by another process before it ended`);
  log.info(
    `run ${summary.status}: ${summary.filesLoaded} files loaded, ${summary.filesSkipped} skipped, ${summary.filesRejected} rejected; ${summary.rowsLoaded} rows loaded, ${summary.rowsRejected} rejected`,
    { durationMs: summary.durationMs },
  );
  // A notice that cannot be sent is logged, never fails the run.
  if (spec.notify && options.notices !== false && !dryRun) {
    await sendRunNotices(db, spec, summary, { ...(options.notices ?? {}), logger: log });
  }
  await log.flush();
  return summary;
}

/**
 * How often a run renews its claim: every 15 s, or four times per claim timeout when that is shorter
 * (a pipeline with `claimTimeout: 4s` is taken over 4 s after its process died, never while it beats).
 */
function heartbeatMs(claimTimeoutMs: number | undefined): number {
  return Math.min(HEARTBEAT_MS, Math.max(250, Math.floor((claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS) / 4)));
}

/** Opens the source (with retries) and sees it as units. */
async function openUnits(scope: RunScope, options: RunOptions, target: string): Promise<UnitSource> {
  const { spec, registry } = options;
  const plugin = registry.get('source', spec.source.type);
  const open = <T>(work: () => Promise<T>) => withRetry(work, scope.retry('connecting to the source'));
  if (isRecordSource(plugin)) {
    const session = await open(() => plugin.open(spec.source.options, scope.context));
    return recordUnits(scope, session, {
      nonTransactional: !registry.get('loader', spec.load.type).capabilities.transactional,
    });
  }
  if (!spec.parse)
    throw new SluiceError('CONFIG_INVALID', `the ${plugin.name} source gives files: add parse:`);
  const parser = registry.get('parser', spec.parse.type);
  const session = await open(() => plugin.open(spec.source.options, scope.context));
  try {
    return await fileUnits(scope, session, parser, spec.parse.options, target);
  } catch (error) {
    await session.close().catch(() => undefined);
    throw error;
  }
}

/**
 * One unit in one transaction (retried when the failure is transient): its ledger hooks around its rows,
 * the run's counts (which also check that the run still holds its claim), then the report.
 */
async function runUnit(scope: RunScope, stages: LoadStages, unit: RunUnit): Promise<FileReport> {
  const signal = scope.context.signal;
  try {
    const prepared = await unit.prepare();
    if (prepared) return prepared;
    return await withRetry(
      () =>
        scope.time('load', () =>
          scope.inTransaction(async (tx) => {
            const start = await unit.begin(tx);
            await setLoadContext(tx, {
              runId: scope.runId,
              asOf: scope.asOf,
              fileName: unit.name,
              fileId: start.fileId,
            });
            const loaded = await loadRows(tx, stages, {
              origin: unit.name,
              key: start.key,
              firstOfRun: start.firstOfRun,
              fileId: start.fileId,
              read: () => unit.read(),
              ...(unit.uniqueBy ? { uniqueBy: unit.uniqueBy } : {}),
              ...(start.dataset ? { dataset: start.dataset } : {}),
            });
            const end = await unit.end(tx, start, loaded);
            const counts = {
              rowsRead: loaded.rowsRead,
              rowsLoaded: loaded.rowsLoaded,
              rowsRejected: loaded.rowsRejected,
            };
            await addRunCounts(tx, scope.runId, scope.claimer, { ...counts, ...end.counts });
            return { name: unit.name, status: 'loaded' as const, ...counts, ...end.report };
          }),
        ),
      scope.retry(`loading ${unit.name}`),
    );
  } catch (error) {
    const settled = await unit.failed(error);
    if (settled) return settled;
    throw inUnit(failureOf(error, signal), unit.name);
  }
}

/** Adds a unit's outcome to the run's summary and log. */
function account(summary: RunSummary, report: FileReport, log: StepLog) {
  summary.files.push(report);
  summary.rowsRead += report.rowsRead;
  summary.rowsLoaded += report.rowsLoaded;
  summary.rowsRejected += report.rowsRejected;
  if (report.status === 'loaded') {
    if (report.ledgerId) summary.filesLoaded++;
    log.info(`loaded ${report.name}: ${report.rowsLoaded} rows, ${report.rowsRejected} rejected`, {
      rowsRead: report.rowsRead,
      ...(report.state ? { state: report.state } : {}),
    });
  } else if (report.status === 'rejected') {
    summary.filesRejected++;
    // Not a warning: the summary lists the file with its reason, and the ledger keeps it.
    log.info(`rejected ${report.name}: ${report.reason}`);
  } else {
    summary.filesSkipped++;
    log.info(`skipped ${report.name}: ${report.reason}`);
  }
}

/** A load failure, said with the unit (file or table) it happened in. */
function inUnit(error: unknown, name: string): unknown {
  if (!isSluiceError(error) || error.code === 'STOPPED') return error;
  return new SluiceError(error.code, `${name}: ${error.message}`, {
    cause: error.cause ?? error,
    retryable: error.retryable,
    ...(error.where ? { where: error.where } : {}),
    ...(error.hint ? { hint: error.hint } : {}),
  });
}

/** A `published` entry a loader logged (see {@link PublishedVersion}). */
function isPublished(value: unknown): value is PublishedVersion {
  const v = value as Partial<PublishedVersion> | undefined;
  return typeof v?.dataset === 'string' && typeof v.version === 'string' && typeof v.manifest === 'string';
}
