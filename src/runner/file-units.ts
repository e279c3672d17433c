import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { sqlState } from '../core/database-errors.js';
import { describeError, isSluiceError, SluiceError } from '../core/errors.js';
import type {
  FetchedFile,
  FileOutcome,
  FileSourceSession,
  ParserPlugin,
  SourceFile,
} from '../core/plugin.js';
import type { FileReport } from '../core/run-summary.js';
import { withRetry } from '../core/retry.js';
import { plural } from '../core/text.js';
import {
  findLoaded,
  markArchived,
  recordFile,
  runHasLoads,
  setFileCounts,
  type LedgerEntry,
  type NewLedgerEntry,
} from '../store/ledger.js';
import { recordFileReject } from '../store/rejects.js';
import { addRunCounts } from '../store/runs.js';
import { saveState } from '../store/state.js';
import {
  addToZip,
  archiveName,
  removeDeadTemporaries,
  startCompression,
  type Compression,
} from './archive.js';
import { FileDataset } from './datasets.js';
import { sha256File } from './file-hash.js';
import type { RunScope } from './run-scope.js';
import type { RunUnit, UnitSource } from './run-unit.js';

interface Pending {
  file: SourceFile;
  fetched: FetchedFile;
  outcome: FileOutcome;
  /** The file's report in the run's summary, told what the source did with the file. */
  report: FileReport;
  /** Ledger id to mark archived, when the content goes into the archive. */
  archiveAs?: string;
  /** The content deflated while it loaded, ready for the zip. */
  compression?: Compression;
}

/**
 * A file source as units: the files are listed first (the progress bar's total; a listing is names
 * only), then each is fetched, hashed and loaded, skipped (its content loaded before, under any name) or
 * rejected whole. Archiving and acting at the source (delete, move) happen only for what committed.
 */
export async function fileUnits(
  scope: RunScope,
  session: FileSourceSession,
  parser: ParserPlugin,
  parseOptions: unknown,
  /** Where the loader puts the rows, recorded with datasets. */
  target: string,
): Promise<UnitSource> {
  const { spec, log } = scope;
  const files: SourceFile[] = [];
  for await (const file of session.list()) files.push(file);
  log.info(`${plural(files.length, 'file')} to consider`);
  const pending: Pending[] = [];
  const zipPath = spec.archive
    ? path.resolve(spec.archive.dir, archiveName(spec.archive.name, scope.asOf, spec.name))
    : undefined;
  /** Deflations not yet handed to the zip: stopped and removed when the run ends without them. */
  const compressing = new Set<Compression>();
  // What a killed run left beside the zip (its deflated parts), even when this run archives nothing.
  if (zipPath && !scope.dryRun) await removeDeadTemporaries(zipPath);

  const settleAll = async () => {
    const batch = pending.splice(0);
    if (batch.length === 0) return;
    if (zipPath && !scope.dryRun) {
      const toArchive = batch.filter((p) => p.archiveAs);
      if (toArchive.length > 0) {
        const zip = zipPath;
        await scope.time('archive', () =>
          addToZip(
            zip,
            toArchive.map((p) => ({
              path: p.fetched.path,
              name: p.file.name,
              ...(p.compression ? { compression: p.compression } : {}),
            })),
          ),
        );
        for (const p of toArchive) if (p.compression) compressing.delete(p.compression);
        await markArchived(
          scope.db,
          toArchive.map((p) => p.archiveAs!),
          zip,
        );
        archive.path = zip;
        log.info(`archived ${plural(toArchive.length, 'file')} into ${zip}`);
      }
    }
    for (const p of batch) {
      if (!scope.dryRun) {
        const done = await scope.time('settle', () => session.settle(p.file, p.outcome));
        if (typeof done === 'string' && done) {
          p.report.atSource = done;
          log.info(`${p.file.name}: ${done}`);
        }
      }
      if (p.fetched.temporary) await rm(p.fetched.path, { force: true });
    }
  };
  const archive: { path?: string } = {};

  const unitOf = (file: SourceFile): RunUnit => {
    let fetched: FetchedFile | undefined;
    let ledgerBase: Omit<NewLedgerEntry, 'status' | 'reason' | 'duplicateOf'> | undefined;
    let archiveAs: string | undefined;
    let committedState: Record<string, unknown> | undefined;
    let compression: Compression | undefined;
    const dataset = spec.dataset ? new FileDataset(spec.dataset, spec.name, file.name, target) : undefined;

    // Content loaded before (under any name) is skipped; the ledger says which entry it repeats.
    const skip = async (loaded: LedgerEntry): Promise<FileReport> => {
      const reason = `same content as ${loaded.name}, loaded in run ${loaded.run_id}`;
      await scope.inTransaction(async (tx) => {
        await recordFile(tx, { ...ledgerBase!, status: 'skipped', reason, duplicateOf: loaded.id });
        await addRunCounts(tx, scope.runId, scope.claimer, { filesSkipped: 1 });
        if (file.state) await saveState(tx, spec.name, scope.runId, file.state);
      });
      // A crash after the original's commit may have kept it out of the archive: archive it now (once).
      const queued = loaded.archived_at !== null || pending.some((p) => p.archiveAs === loaded.id);
      archiveAs = queued ? undefined : loaded.id;
      return { name: file.name, status: 'skipped', reason, rowsRead: 0, rowsLoaded: 0, rowsRejected: 0 };
    };

    // A file that breaks the layout or cannot go into the target: nothing of it loads; the ledger and one
    // reject say why.
    const rejectWhole = async (error: SluiceError): Promise<FileReport> => {
      const reason = error.message;
      const line = Number(/:(\d+)(?::\d+)?$/.exec(error.where ?? '')?.[1]) || null;
      const fileId = await scope.inTransaction(async (tx) => {
        const fileId = await recordFile(tx, { ...ledgerBase!, status: 'rejected', reason });
        await recordFileReject(tx, {
          runId: scope.runId,
          pipeline: spec.name,
          fileId,
          file: file.name,
          line,
          reason,
        });
        await addRunCounts(tx, scope.runId, scope.claimer, { filesRejected: 1 });
        if (file.state) await saveState(tx, spec.name, scope.runId, file.state);
        return fileId;
      });
      return {
        name: file.name,
        status: 'rejected',
        reason,
        rowsRead: 0,
        rowsLoaded: 0,
        rowsRejected: 0,
        ledgerId: fileId,
        ...(dataset
          ? { dataset: await dataset.failed(scope.db, { reason, fileId, runId: scope.runId }) }
          : {}),
      };
    };

    return {
      name: file.name,
      async prepare() {
        const got = await scope.time('fetch', () =>
          withRetry(() => session.fetch(file), scope.retry(`fetching ${file.name}`)),
        );
        fetched = got;
        const sha256 = await scope.time('hash', () => sha256File(got.path));
        ledgerBase = {
          pipeline: spec.name,
          runId: scope.runId,
          source: session.location,
          name: file.name,
          size: got.size,
          sha256,
        };
        const loaded = await findLoaded(scope.db, spec.name, sha256);
        if (loaded) return skip(loaded);
        if (zipPath && !scope.dryRun) {
          // Deflate for the archive while the rows load (off the main thread); published after the commit.
          compression = startCompression(got.path, zipPath);
          compressing.add(compression);
        }
        await dataset?.prepare(got.path, parser, parseOptions, scope.context);
        return undefined;
      },
      async begin(tx) {
        const firstOfRun = !(await runHasLoads(tx, scope.runId));
        const fileId = await recordFile(tx, { ...ledgerBase!, status: 'loaded' });
        return {
          fileId,
          firstOfRun,
          key: ledgerBase!.sha256,
          ...(dataset ? { dataset: await dataset.open(tx) } : {}),
        };
      },
      read: () => {
        const rows = parser.parse(
          { stream: createReadStream(fetched!.path, { highWaterMark: 1 << 18 }), origin: file.name },
          parseOptions,
          scope.context,
        );
        return dataset ? dataset.read(rows) : rows;
      },
      async end(tx, start, loaded) {
        await setFileCounts(tx, start.fileId!, loaded);
        // The source's entries (an ETag) and the parser's (a series' newest observation) commit with the rows.
        const state = file.state || loaded.state ? { ...file.state, ...loaded.state } : undefined;
        if (state) await saveState(tx, spec.name, scope.runId, state);
        committedState = state;
        const made = dataset
          ? await dataset.close(tx, { ...loaded, fileId: start.fileId, runId: scope.runId })
          : undefined;
        return {
          report: { status: 'loaded', ledgerId: start.fileId!, ...(made ? { dataset: made } : {}) },
          counts: { filesLoaded: 1 },
          ...(state ? { state } : {}),
        };
      },
      async failed(error) {
        if (ledgerBase && isLedgerConflict(error)) {
          // Another process committed the same content while this one was loading it.
          const first = await findLoaded(scope.db, spec.name, ledgerBase.sha256);
          if (first) return skip(first);
        }
        if (scope.context.signal.aborted) return undefined;
        const whole = ledgerBase ? fileLevelProblem(error) : undefined;
        if (whole) return rejectWhole(whole);
        // The run fails; the file stays at the source to be tried again, and its dataset says why.
        await dataset?.failed(scope.db, { reason: describeError(error), fileId: null, runId: scope.runId });
        return undefined;
      },
      async done(report) {
        scope.state.committed(report.status === 'loaded' ? committedState : file.state);
        const ledgerId = report.status === 'loaded' ? report.ledgerId : archiveAs;
        if (compression && !(report.status === 'loaded' && ledgerId)) {
          compressing.delete(compression);
          await compression.cancel();
          compression = undefined;
        }
        pending.push({
          file,
          fetched: fetched!,
          outcome: report.status,
          report,
          ...(ledgerId ? { archiveAs: ledgerId } : {}),
          ...(compression ? { compression } : {}),
        });
        if (!spec.archive) await settleAll(); // nothing to archive first: tidy the source as we go
      },
    };
  };

  return {
    location: session.location,
    total: files.length,
    async *units() {
      for (const file of files) yield unitOf(file);
    },
    afterLoads: settleAll,
    archive: () => archive.path,
    async close() {
      await Promise.all([...compressing].map((c) => c.cancel()));
      compressing.clear();
      await session.close();
    },
  };
}

/** The unique index that lets a content hash load once per pipeline. */
function isLedgerConflict(error: unknown): boolean {
  const inner = isSluiceError(error) ? error.cause : error;
  return (
    sqlState(error) === '23505' &&
    (inner as { constraint?: string } | undefined)?.constraint === 'files_loaded_once'
  );
}

/**
 * A failure that belongs to one file, which is then rejected while the run goes on: its layout, its
 * columns against the target, or a value or size the database refused while loading it (SQLSTATE classes
 * 22 data exception, 23 integrity constraint, 54 program limit such as too many columns).
 */
function fileLevelProblem(error: unknown): SluiceError | undefined {
  if (isSluiceError(error, 'LAYOUT_MISMATCH', 'PARSE_FAILED', 'TARGET_MISMATCH', 'FILE_EMPTY')) return error;
  const state = sqlState(error);
  if (isSluiceError(error, 'DATABASE_ERROR') && state && /^(22|23|54)/.test(state)) return error;
  return undefined;
}
