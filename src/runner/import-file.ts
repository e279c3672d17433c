import { createReadStream } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { isSluiceError, SluiceError } from '../core/errors.js';
import { datasetLabel, dateFromFileName, dateFromValue, type ImportRule } from '../core/import-rule-spec.js';
import type {
  BatchResult,
  LoaderPlugin,
  LoadSession,
  ParserPlugin,
  Plugin,
  PluginContext,
} from '../core/plugin.js';
import type { Column, RecordBatch, Value } from '../core/records.js';
import { Registry } from '../core/registry.js';
import { parsePipeline } from '../core/spec.js';
import {
  normalizeColumnName,
  parseTableName,
  quoteTable,
  targetColumnNames,
  type SqlClient,
} from '../core/sql.js';
import type { Database } from '../store/database.js';
import { activateDataset, openDataset, recordFailedDataset, type ColumnMapping } from '../store/datasets.js';
import type { LogEntry } from '../store/step-log.js';
import { runPipeline } from './run-pipeline.js';

/** The column of every imported table that holds the id of the dataset (sluice.datasets) a row came in. */
export const DATASET_ID_COLUMN = 'dataset_id';

/** Where a file that breaks its rule's layout goes, inside the source folder. */
export const REJECTED_FOLDER = 'rejected';

export interface ImportFileOptions {
  db: Database;
  registry: Registry;
  /** Sluice's folder (scratch space, fallback logs). */
  home: string;
  rule: ImportRule;
  /** The file, inside the rule's source folder. */
  file: string;
  asOf?: string;
  signal?: AbortSignal;
  onLog?: (entry: LogEntry) => void;
}

export interface ImportResult {
  rule: string;
  file: string;
  /** loaded: a new dataset; skipped: the same content was imported before; rejected: the file broke the layout
   * (moved to `rejected/`); failed: the run failed and the file stays where it is, to be tried again. */
  status: 'loaded' | 'skipped' | 'rejected' | 'failed';
  runId: string;
  datasetId?: string;
  datasetStatus?: 'active' | 'empty' | 'failed';
  label: string;
  date: string | null;
  rowsLoaded: number;
  rowsRejected: number;
  /** Datasets this one replaced (now inactive). */
  superseded: string[];
  reason?: string;
}

/** What the dataset loader learns during the load, read once the run is over. */
interface DatasetOutcome {
  id?: string;
  date: string | null;
  status?: 'active' | 'empty';
  superseded: string[];
}

/**
 * Imports one file under a rule: a pipeline (files source on that one file, the rule's parser, the postgres
 * loader with the rule's strategy) run by the ordinary runner, so the ledger's exactly-once, rejects and
 * step log hold as for any pipeline. The dataset (its row, the rows' dataset_id, the superseding of the
 * previous one) is written by a wrapper of the loader inside the load's transaction. The file is moved to
 * the archive folder (or `rejected/`) by the source only after that transaction committed.
 */
export async function importFile(options: ImportFileOptions): Promise<ImportResult> {
  const { db, rule } = options;
  const fileName = path.basename(options.file);
  const dir = path.dirname(path.resolve(options.file));
  const label = datasetLabel(rule, fileName);
  const outcome: DatasetOutcome = { date: null, superseded: [] };

  const base = options.registry;
  const parser = base.get('parser', rule.fileType);
  const access: FileAccess = { path: path.join(dir, fileName), parser };
  const registry = new Registry(
    base.plugins.map((p): Plugin => {
      if (p.kind === 'loader' && p.name === 'postgres')
        return datasetLoader(p, rule, label, fileName, access, outcome);
      if (p === parser) return blankTolerantParser(parser, access);
      return p;
    }),
  );

  await addDatasetColumn(db, rule.targetTable);
  const pipeline = {
    name: `import.${rule.name}`,
    description: `import rule ${rule.name}`,
    source: {
      type: 'files',
      url: dir,
      glob: escapeGlob(fileName),
      onLoad: 'move',
      processedDir: rule.archiveFolder,
      onReject: 'move',
      rejectedDir: REJECTED_FOLDER,
      // The watcher (or the user) hands over a file that is complete.
      stableFor: '0s',
    },
    parse: { type: rule.fileType, ...rule.parser },
    load: {
      type: 'postgres',
      table: rule.targetTable,
      mode: rule.mode,
      schema: rule.strategy,
      columnNames: 'keep',
    },
  };
  // Through parsePipeline, so the spec gets every default a pipeline file would; `$${` keeps a `${` in a
  // rule's value literal.
  const spec = parsePipeline(stringify(escapeEnv(pipeline)), { registry, env: {} });
  const summary = await runPipeline({
    db,
    spec,
    registry,
    home: options.home,
    ...(options.asOf ? { asOf: options.asOf } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });

  const report = summary.files[0];
  const result: ImportResult = {
    rule: rule.name,
    file: fileName,
    status: 'failed',
    runId: summary.runId,
    label,
    date: outcome.date,
    rowsLoaded: report?.rowsLoaded ?? 0,
    rowsRejected: report?.rowsRejected ?? 0,
    superseded: outcome.superseded,
  };
  if (report?.status === 'loaded' && outcome.id && outcome.status) {
    return { ...result, status: 'loaded', datasetId: outcome.id, datasetStatus: outcome.status };
  }
  if (report?.status === 'skipped') return { ...result, status: 'skipped', reason: report.reason ?? '' };

  // Rejected whole, or the run failed: a failed dataset says so.
  const reason =
    report?.status === 'rejected'
      ? (report.reason ?? 'rejected')
      : (summary.error?.message ?? (report ? 'the import failed' : `${fileName} was not found in ${dir}`));
  const fileId =
    report?.status === 'rejected' && summary.runId
      ? ((
          await db.query<{ id: string }>(
            `SELECT id::text FROM sluice.files WHERE run_id = $1 AND name = $2 AND status = 'rejected' ORDER BY id DESC LIMIT 1`,
            [summary.runId, fileName],
          )
        ).rows[0]?.id ?? null)
      : null;
  const datasetId = await recordFailedDataset(db, {
    label,
    date: outcome.date,
    rule: rule.name,
    targetTable: rule.targetTable,
    fileName,
    fileId,
    runId: summary.runId || null,
    error: reason,
  });
  return {
    ...result,
    status: report?.status === 'rejected' ? 'rejected' : 'failed',
    datasetId,
    datasetStatus: 'failed',
    reason,
  };
}

/** A table imported into before this rule existed gets its dataset_id column, so strict and ignore_new take it. */
async function addDatasetColumn(db: SqlClient, table: string) {
  const target = quoteTable(parseTableName(table));
  const { rows } = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [target]);
  if (rows[0]?.t)
    await db.query(`ALTER TABLE ${target} ADD COLUMN IF NOT EXISTS ${DATASET_ID_COLUMN} bigint`);
}

interface FileAccess {
  path: string;
  parser: ParserPlugin;
}

/**
 * The postgres loader, with the dataset around each load: opens the dataset row, puts its id first in every
 * row, names the columns (recording the header → column mapping), and after the rows makes the dataset the
 * current one of its label and date — all in the runner's transaction.
 */
function datasetLoader(
  inner: LoaderPlugin,
  rule: ImportRule,
  label: string,
  fileName: string,
  file: FileAccess,
  outcome: DatasetOutcome,
): LoaderPlugin {
  return {
    ...inner,
    async open(options, context): Promise<LoadSession> {
      const session = await inner.open(options, context);
      let current: { id: string; rows: number; map: ColumnMapping[]; contentDate?: Value } | undefined;
      return {
        ...session,
        async load(tx, batches, unit) {
          const date = await datasetDateBefore(rule, fileName, file, context);
          outcome.date = date;
          const id = await openDataset(tx, {
            label,
            date,
            rule: rule.name,
            targetTable: rule.targetTable,
            fileName,
          });
          const iterator = batches[Symbol.asyncIterator]();
          const first = await iterator.next();
          if (first.done) throw new Error('a load unit must carry at least one (possibly empty) batch');
          const headers = first.value.columns;
          if (headers.length === 0) {
            // An empty file: nothing to create or load, but still a dataset (empty) and archived.
            current = { id, rows: 0, map: [] };
            return { rowsLoaded: 0 };
          }
          const names = targetColumnNames([DATASET_ID_COLUMN, ...headers.map((c) => c.name)]);
          const columns: Column[] = [
            { name: DATASET_ID_COLUMN, type: 'bigint' },
            ...headers.map((c, i) => ({ name: names[i + 1]!, ...(c.type ? { type: c.type } : {}) })),
          ];
          const dateColumn =
            rule.datasetDate?.from === 'column' ? findColumn(headers, rule.datasetDate.column) : -1;
          if (dateColumn < 0 && rule.datasetDate?.from === 'column')
            throw new SluiceError(
              'LAYOUT_MISMATCH',
              `the file has no column "${rule.datasetDate.column}" to read the dataset date from; it has ${headers.map((c) => `"${c.name}"`).join(', ')}`,
              { where: fileName, hint: `Fix datasetDate.column of import rule ${rule.name}.` },
            );
          let contentDate: Value | undefined;
          async function* tagged(): AsyncIterable<RecordBatch> {
            let batch: RecordBatch | undefined = first.value as RecordBatch;
            while (batch) {
              for (const row of batch.rows) {
                if (contentDate == null && dateColumn >= 0) contentDate = row[dateColumn];
                row.unshift(id);
              }
              yield { ...batch, columns };
              const next = await iterator.next();
              batch = next.done ? undefined : next.value;
            }
          }
          const result = await session.load(tx, tagged(), unit);
          const table = await tableColumnNames(tx, rule.targetTable);
          current = {
            id,
            rows: result.rowsLoaded,
            map: headers.map((c, i) => ({
              header: c.name,
              column: table.has(names[i + 1]!) ? names[i + 1]! : null,
            })),
            contentDate,
          };
          return result;
        },
        async afterLoad(tx, unit) {
          await session.afterLoad(tx, unit);
          if (!current) throw new Error('afterLoad before load');
          let date = outcome.date;
          if (rule.datasetDate?.from === 'column' && current.rows > 0) {
            const raw = current.contentDate;
            date = dateFromValue(raw == null ? undefined : valueText(raw), rule.datasetDate.format) ?? null;
            if (!date)
              throw new SluiceError(
                'LAYOUT_MISMATCH',
                raw == null
                  ? `column "${rule.datasetDate.column}" is empty in every row: no dataset date`
                  : `column "${rule.datasetDate.column}" holds ${JSON.stringify(valueText(raw))}, not a date written ${rule.datasetDate.format ?? 'yyyy-MM-dd'}`,
                { where: fileName, hint: `Fix the file, or datasetDate of import rule ${rule.name}.` },
              );
            outcome.date = date;
          }
          const { rows } = await tx.query<{ id: string | null }>('SELECT sluice.file_id()::text AS id');
          const activated = await activateDataset(tx, {
            id: current.id,
            label,
            date,
            rowCount: current.rows,
            fileId: rows[0]?.id ?? null,
            runId: unit.runId,
            columnMap: current.map,
          });
          outcome.id = current.id;
          outcome.status = activated.status;
          outcome.superseded = activated.superseded;
          current = undefined;
        },
      };
    },
  };
}

/** The dataset date known before the rows are read: from the file name, static, or a cell. */
async function datasetDateBefore(
  rule: ImportRule,
  fileName: string,
  file: FileAccess,
  context: PluginContext,
): Promise<string | null> {
  const spec = rule.datasetDate;
  if (!spec || spec.from === 'column') return null;
  if (spec.from === 'static') return spec.value;
  if (spec.from === 'filename') return dateFromFileName(spec, fileName);
  const text = await readCell(rule, file, spec.cell, context);
  const date = dateFromValue(text, spec.format);
  if (date) return date;
  throw new SluiceError(
    'LAYOUT_MISMATCH',
    text === undefined
      ? `cell ${spec.cell.toUpperCase()} is empty: no dataset date`
      : `cell ${spec.cell.toUpperCase()} holds ${JSON.stringify(text)}, not a date written ${spec.format ?? 'yyyy-MM-dd'}`,
    { where: fileName, hint: `Fix the file, or datasetDate of import rule ${rule.name}.` },
  );
}

/**
 * One cell's text, read by the rule's own parser (so dates and encodings come out as in the rows): a sheet
 * read with that cell's row as the header row and its column as the only column; a CSV read without a header.
 */
async function readCell(
  rule: ImportRule,
  file: FileAccess,
  cell: string,
  context: PluginContext,
): Promise<string | undefined> {
  const m = /^([A-Za-z]+)(\d+)$/.exec(cell)!;
  const letters = m[1]!.toUpperCase();
  const row = Number(m[2]);
  const col = [...letters].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0);
  const stream = createReadStream(file.path);
  try {
    if (rule.fileType === 'csv') {
      const { expectHeader: _e, columns: _c, ...rest } = rule.parser;
      const options = file.parser.options.parse({ ...rest, header: false });
      for await (const { batch } of file.parser.parse(
        { stream, origin: path.basename(file.path) },
        options,
        context,
      )) {
        for (const [i, line] of batch.lines.entries()) {
          if (line === row) return textOrUndefined(batch.rows[i]?.[col - 1]);
          if (line > row) return undefined;
        }
      }
      return undefined;
    }
    const { expectHeader: _e, skipRows: _s, ...rest } = rule.parser;
    const options = file.parser.options.parse({ ...rest, headerRow: row, columns: `${letters}:${letters}` });
    try {
      for await (const { batch } of file.parser.parse(
        { stream, origin: path.basename(file.path) },
        options,
        context,
      ))
        return textOrUndefined(batch.columns[0]?.name);
    } catch (error) {
      // The cell's row is empty or missing (within its column): the cell is empty.
      if (isSluiceError(error, 'LAYOUT_MISMATCH') && /header/.test(error.message)) return undefined;
      throw error;
    }
    return undefined;
  } finally {
    stream.destroy();
  }
}

/**
 * A parser that reads an empty file (nothing but blanks, or a sheet without a single row) as one batch with
 * no columns, so that it becomes an `empty` dataset instead of a rejected file.
 */
function blankTolerantParser(inner: ParserPlugin, file: FileAccess): ParserPlugin {
  return {
    ...inner,
    async *parse(input, options, context): AsyncIterable<BatchResult> {
      let yielded = false;
      try {
        for await (const result of inner.parse(input, options, context)) {
          yielded = true;
          yield result;
        }
      } catch (error) {
        if (
          yielded ||
          !isSluiceError(error, 'LAYOUT_MISMATCH') ||
          !(await isBlank(inner.name, file.path, error))
        )
          throw error;
        yield {
          batch: { columns: [], rows: [], origin: input.origin, lines: [] },
          rejects: [],
          rejectedRows: 0,
        };
      }
    },
  };
}

/** Whether a file the parser found no header in is blank (rather than of the wrong layout). */
async function isBlank(type: string, file: string, error: SluiceError): Promise<boolean> {
  if (type !== 'csv') {
    // The sheet parsers say "has no header" when no row at all is at or below the header row.
    return /has no header/.test(error.message);
  }
  // Only whitespace (and a byte order mark): stop at the first other byte.
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
    for (const byte of chunk) {
      if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
      if (byte === 0xef || byte === 0xbb || byte === 0xbf) continue;
      return false;
    }
  }
  return true;
}

function findColumn(columns: readonly Column[], wanted: string): number {
  const exact = columns.findIndex((c) => c.name === wanted);
  if (exact >= 0) return exact;
  const normalized = normalizeColumnName(wanted);
  return columns.findIndex((c) => normalizeColumnName(c.name) === normalized);
}

async function tableColumnNames(tx: SqlClient, table: string): Promise<Set<string>> {
  const { rows } = await tx.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
    [quoteTable(parseTableName(table))],
  );
  return new Set(rows.map((r) => r.name));
}

function valueText(value: Value): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function textOrUndefined(value: Value | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = valueText(value).trim();
  return text === '' ? undefined : text;
}

/** A file name as a glob that matches only itself. */
function escapeGlob(name: string): string {
  return name.replace(/[\\*?[\]{}()!+@|^$.,]/g, '\\$&');
}

/** `${` in any string becomes `$${`, which pipeline interpolation reads back as a literal `${`. */
function escapeEnv(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('${', '$${');
  if (Array.isArray(value)) return value.map(escapeEnv);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeEnv(v)]));
  return value;
}
