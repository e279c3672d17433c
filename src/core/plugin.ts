import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { MailStore } from './mail-store.js';
import type { ColumnType, Reject, RecordBatch } from './records.js';
import type { SqlClient } from './sql.js';

/** What every plugin may use: a logger, an abort signal and a scratch folder. Nothing else of the world. */
export interface PluginContext {
  logger: Logger;
  signal: AbortSignal;
  /** A private folder for temporary files, removed by the runner. */
  workDir: string;
  /**
   * A dry run: everything is rolled back at the end, so a plugin writes no file and changes nothing outside
   * the database (no downloads kept, no reports, no moves at the source).
   */
  dryRun?: boolean;
  /**
   * The pipeline's saved state (watermarks, ETags), read-only: a plugin hands the entries to save to the
   * runner (`SourceFile.state`, `RecordUnit.stateAfter`), which writes them in the transaction of the load
   * they describe. Absent outside a run.
   */
  state?: StateReader;
  /** Inbox rules, the Message-ID ledger and poll times of mail sources (`sluice.inbox_rules`…). Absent outside a run. */
  mail?: MailStore;
}

export interface StateReader {
  get<T = unknown>(key: string): Promise<T | undefined>;
}

/**
 * Where a plugin reports. A line logged with `{ outcome: true }` in its data says what the run did beyond
 * its rows (`downloaded 3 files, 2 unchanged`): the run's summary shows it. Warnings are shown there too.
 */
export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

interface PluginBase<K extends string, S extends z.ZodType> {
  kind: K;
  /** The name used in pipeline files (`type: csv`). */
  name: string;
  /** One line for `sluice plugins`. */
  summary: string;
  /** The options, each field with `.describe()`: the single spec for validation, docs and JSON Schema. */
  options: S;
}

// ---- sources ---------------------------------------------------------------------------------------

/** A file as a source lists it, before it is fetched. */
export interface SourceFile {
  /** Where the file is at the source (full path or key); stable across runs. */
  id: string;
  /** Base name, used in the ledger, rejects and the archive. */
  name: string;
  size?: number;
  modifiedAt?: Date;
  /**
   * State entries (key → JSON value) the runner saves in the same transaction as the file's outcome (loaded,
   * skipped or rejected), e.g. the ETag a download came with.
   */
  state?: Record<string, unknown>;
}

/** A file the runner can read locally. */
export interface FetchedFile {
  path: string;
  size: number;
  /** A copy the runner deletes when it is done with it. */
  temporary: boolean;
}

/** What became of a file; the source acts on it only after the outcome committed. */
export type FileOutcome = 'loaded' | 'skipped' | 'rejected';

export interface FileSourceSession {
  /** Where the files come from, safe to log (no secrets). */
  readonly location: string;
  list(): AsyncIterable<SourceFile>;
  /** Makes the file readable locally; checks it arrived whole. */
  fetch(file: SourceFile): Promise<FetchedFile>;
  /**
   * Deletes, moves or keeps the file at the source, as configured for the outcome; may say what it did
   * (`deleted at the source`, `moved to processed/`) for the step log.
   */
  settle(file: SourceFile, outcome: FileOutcome): Promise<string | void>;
  close(): Promise<void>;
}

export interface SourcePlugin<S extends z.ZodType = z.ZodType> extends PluginBase<'source', S> {
  /** Files go through a parser (`parse:` required); records go to the checks directly (no `parse:`). */
  produces?: 'files';
  /** URL schemes this source serves when a pipeline gives `url:` without `type:` (`sftp`, `file`). */
  schemes: string[];
  open(options: z.output<S>, context: PluginContext): Promise<FileSourceSession>;
}

/**
 * A unit of records a source reads (a table, a scanned range): it loads in one transaction, with its state.
 * Its batches carry origins (key or URL) so rejects say where a row came from.
 */
export interface RecordUnit {
  /** Stable across runs (`sql:public.orders`): what the unit is, for loaders that commit on their own. */
  key: string;
  /** Short name for logs, run summaries and reject origins. */
  name: string;
  /** The records; a unit that reads nothing still yields nothing and loads as an empty unit. */
  read(): AsyncIterable<BatchResult>;
  /** Columns whose values are unique within the unit (a table's primary key), when the source knows. */
  uniqueBy?: readonly string[];
  /**
   * State entries to save in the unit's load transaction, asked once `read()` is exhausted: a watermark is the
   * greatest value actually read, never the clock.
   */
  stateAfter?(): Record<string, unknown>;
}

export interface RecordSourceSession {
  /** Where the records come from, safe to log (no secrets). */
  readonly location: string;
  units(): AsyncIterable<RecordUnit>;
  close(): Promise<void>;
}

export interface RecordSourcePlugin<S extends z.ZodType = z.ZodType> extends PluginBase<'source', S> {
  produces: 'records';
  schemes: string[];
  open(options: z.output<S>, context: PluginContext): Promise<RecordSourceSession>;
}

export type AnySourcePlugin = SourcePlugin | RecordSourcePlugin;

export function isRecordSource(plugin: AnySourcePlugin): plugin is RecordSourcePlugin {
  return plugin.produces === 'records';
}

// ---- parsers ---------------------------------------------------------------------------------------

export interface ParseInput {
  /** Bytes of the file. */
  stream: Readable;
  /** Name used as the origin of every row and reject. */
  origin: string;
}

/** A parsed batch, with the rows the parser itself refused (such as a wrong field count). */
export interface BatchResult {
  batch: RecordBatch;
  rejects: Reject[];
  /** Rows refused (a row may carry several rejects). */
  rejectedRows: number;
  /**
   * State entries (key → JSON value) to save with the unit these rows load in, in its transaction: a parser's
   * incremental mark (the newest observation of a series). A later batch's entry replaces an earlier one.
   */
  state?: Record<string, unknown>;
}

export interface ParserPlugin<S extends z.ZodType = z.ZodType> extends PluginBase<'parser', S> {
  /**
   * Streams a file as batches. A file that breaks the layout throws a `LAYOUT_MISMATCH` SluiceError naming
   * the line; a bad row becomes a reject and the rest goes on.
   */
  parse(input: ParseInput, options: z.output<S>, context: PluginContext): AsyncIterable<BatchResult>;
  /**
   * The text of one cell of the file (1-based row and column, as a person counts them in a spreadsheet or
   * a text editor), read with the file's format options but none of its layout (no header, nothing
   * skipped): what a dataset date taken from a cell reads. Undefined when the cell is empty or missing.
   */
  readCell?(
    input: ParseInput,
    options: z.output<S>,
    cell: { row: number; column: number },
    context: PluginContext,
  ): Promise<string | undefined>;
}

// ---- checks ----------------------------------------------------------------------------------------

export type CheckOutcome = { ok: true; value: string } | { ok: false; message: string };

/** A column rule. Rules run in the order written; each may rewrite the value (trim, canonical date). */
export interface CheckRule<S extends z.ZodType = z.ZodType> extends PluginBase<'check', S> {
  /** The column type a value that passes has; undefined when the rule does not decide the type. */
  columnType?(options: z.output<S>): ColumnType;
  compile(options: z.output<S>): (value: string) => CheckOutcome;
}

// ---- transforms ------------------------------------------------------------------------------------

/**
 * A transform as a run uses it: a function of each batch. It may say what it did over the whole run
 * (`normalize: 12 rows changed, 3 dropped as duplicates`) through `outcome`, which the runner asks once
 * the units are done and shows in the run's summary.
 */
export type TransformFunction = ((input: BatchResult) => BatchResult) & {
  outcome?: () => string | undefined;
  /**
   * Rows held back until a unit's last batch (last-wins de-duplication), released once its rows are all
   * read, and forgotten: the runner calls it at the end of every unit, also of one that failed.
   */
  endUnit?: () => BatchResult | undefined;
};

export interface TransformPlugin<S extends z.ZodType = z.ZodType> extends PluginBase<'transform', S> {
  create(options: z.output<S>, context: PluginContext): TransformFunction;
}

// ---- loaders ---------------------------------------------------------------------------------------

export type WriteMode = 'append' | 'replace' | 'merge';

/** Declared by each loader so the runner can refuse a pipeline it cannot serve before anything starts. */
export interface LoaderCapabilities {
  modes: WriteMode[];
  /**
   * Rows, ledger and rejects commit together (the target is the control-plane database). A loader that is not
   * transactional writes elsewhere (MySQL): it commits its rows before `load` returns and must make a retry of
   * the same `LoadUnit.key` a no-op, because the ledger commits after it.
   */
  transactional: boolean;
  /** The longest column or table name the target takes, counted in `identifierLengthUnit`. */
  maxIdentifierLength: number;
  /** What `maxIdentifierLength` counts: UTF-8 bytes (PostgreSQL) or characters (MySQL); bytes when not given. */
  identifierLengthUnit?: 'bytes' | 'characters';
  /**
   * Keeps datasets (a pipeline's `dataset:` section): each row of a unit gets the dataset's id in column
   * `dataset_id` (added to the table when it lacks it, whatever the schema strategy), and `load` reports
   * where each source column went (`LoadResult.columns`).
   */
  datasets?: boolean;
}

/** One unit of load (a file), inside the transaction the runner opened. */
export interface LoadUnit {
  runId: string;
  /** The run's as-of date, `YYYY-MM-DD`. */
  asOf: string;
  origin: string;
  /**
   * Stable across retries and reruns of the same content (a file's SHA-256): a loader that cannot commit with
   * the runner's transaction (`transactional: false`) records it in its own target to load a unit once.
   */
  key: string;
  /** True when nothing has been loaded into the target in this run yet (for `replace`). */
  firstOfRun: boolean;
  /**
   * Columns (as the source names them) whose values the source guarantees unique within the unit, such as a
   * table's primary key: a merge into an empty table can then COPY straight in.
   */
  uniqueBy?: readonly string[];
  /**
   * Takes rows the loader refuses (a null merge key), one reject per row: the runner stores them with the
   * unit's other rejects and counts the rows as rejected. Without it a loader fails the unit instead.
   */
  reject?(rejects: readonly Reject[]): Promise<void>;
  /** The dataset the unit's rows belong to (only for loaders that keep datasets). */
  dataset?: { id: string };
}

export interface LoadResult {
  rowsLoaded: number;
  /** For a dataset: each source column and the target column it went to (null: the table does not take it). */
  columns?: { source: string; target: string | null }[];
}

export interface RunInfo {
  runId: string;
  asOf: string;
}

export interface LoadSession {
  /** Where the rows go, said to people and recorded with datasets (a table name). */
  readonly target?: string;
  /** Runs once when a run starts, in its own transaction (setup SQL such as CREATE TABLE IF NOT EXISTS). */
  startRun(tx: SqlClient, run: RunInfo): Promise<void>;
  /**
   * Loads one unit through `tx`, the runner's open transaction. The first batch gives the columns; a unit
   * with no rows still arrives as one empty batch, so `replace` and SQL steps behave the same.
   */
  load(tx: SqlClient, batches: AsyncIterable<RecordBatch>, unit: LoadUnit): Promise<LoadResult>;
  /** Runs after the unit's rows and rejects are written, before the commit (SQL steps after a load). */
  afterLoad(tx: SqlClient, unit: LoadUnit): Promise<void>;
  /**
   * Runs once at the end of a run that did not fail, in its own transaction: run-level SQL, and `replace`
   * targets that no unit touched are emptied.
   */
  finishRun(tx: SqlClient, run: RunInfo & { loadedAny: boolean }): Promise<void>;
  /**
   * Runs once the run's units and its `finishRun` committed, outside any transaction, when the run did not
   * fail and is not a dry run: makes what the run wrote visible where a transaction cannot (the lake flips
   * its current-version pointer), like the archive and the moves at the source. A failure fails the run.
   * It must be idempotent: a resumed run, or the next one, calls it again. `db` is the control plane, to
   * record what was made visible (outside any transaction).
   */
  publish?(run: RunInfo, db: SqlClient): Promise<void>;
}

export interface LoaderPlugin<S extends z.ZodType = z.ZodType> extends PluginBase<'loader', S> {
  capabilities: LoaderCapabilities;
  /** The write mode the options ask for, checked against the capabilities. */
  writeMode(options: z.output<S>): WriteMode;
  open(options: z.output<S>, context: PluginContext): Promise<LoadSession>;
}

export type Plugin =
  SourcePlugin | RecordSourcePlugin | ParserPlugin | CheckRule | TransformPlugin | LoaderPlugin;
export type PluginKind = Plugin['kind'];

export function defineSource<S extends z.ZodType>(plugin: Omit<SourcePlugin<S>, 'kind'>): SourcePlugin<S> {
  return { kind: 'source', ...plugin };
}
export function defineRecordSource<S extends z.ZodType>(
  plugin: Omit<RecordSourcePlugin<S>, 'kind' | 'produces'>,
): RecordSourcePlugin<S> {
  return { kind: 'source', produces: 'records', ...plugin };
}
export function defineParser<S extends z.ZodType>(plugin: Omit<ParserPlugin<S>, 'kind'>): ParserPlugin<S> {
  return { kind: 'parser', ...plugin };
}
export function defineCheck<S extends z.ZodType>(plugin: Omit<CheckRule<S>, 'kind'>): CheckRule<S> {
  return { kind: 'check', ...plugin };
}
export function defineTransform<S extends z.ZodType>(
  plugin: Omit<TransformPlugin<S>, 'kind'>,
): TransformPlugin<S> {
  return { kind: 'transform', ...plugin };
}
export function defineLoader<S extends z.ZodType>(plugin: Omit<LoaderPlugin<S>, 'kind'>): LoaderPlugin<S> {
  return { kind: 'loader', ...plugin };
}
