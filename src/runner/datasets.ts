import { createReadStream } from 'node:fs';
import { dateFromFileName, dateFromValue, datasetLabel, type DatasetSpec } from '../core/dataset-spec.js';
import { isSluiceError, SluiceError } from '../core/errors.js';
import type { BatchResult, LoadResult, ParserPlugin, PluginContext } from '../core/plugin.js';
import { normalizeColumnName, type SqlClient } from '../core/sql.js';
import type { Value } from '../core/records.js';
import type { DatasetReport } from '../core/run-summary.js';
import { activateDataset, openDataset, recordFailedDataset } from '../store/datasets.js';

/**
 * One file's dataset through its load (a pipeline with `dataset:`): its label and date are worked out
 * before the load (from the file name, a fixed value or a cell), its row opened in the load's transaction
 * so that the rows carry its id, and after the rows it becomes the current dataset of its label and date
 * (or `empty`), superseding the previous one, in that same transaction. A file rejected, or a load that
 * failed, leaves a `failed` dataset saying why. Datasets live in `sluice.datasets` whatever the loader.
 */
export class FileDataset {
  readonly label: string;
  private date: string | null = null;
  private id: string | undefined;
  private contentDate: Value | undefined;
  private dateColumn = -1;

  constructor(
    private readonly spec: DatasetSpec,
    private readonly pipeline: string,
    private readonly fileName: string,
    private readonly target: string,
  ) {
    this.label = datasetLabel(spec, pipeline, fileName);
  }

  private get rule(): string {
    return this.spec.rule ?? this.pipeline;
  }

  /** The date known before the rows are read: from the file name, a fixed value, or a cell. */
  async prepare(file: string, parser: ParserPlugin, parseOptions: unknown, context: PluginContext) {
    const date = this.spec.date;
    if (!date || date.from === 'column') return;
    if (date.from === 'static') this.date = date.value;
    else if (date.from === 'filename') this.date = dateFromFileName(date, this.fileName);
    else {
      const [, letters, row] = /^([A-Za-z]+)(\d+)$/.exec(date.cell)!;
      const column = [...letters!.toUpperCase()].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0);
      const stream = createReadStream(file);
      let text: string | undefined;
      try {
        text = await parser.readCell!(
          { stream, origin: this.fileName },
          parseOptions,
          { row: Number(row), column },
          context,
        );
      } finally {
        stream.destroy();
      }
      this.date = dateFromValue(text, date.format) ?? null;
      if (!this.date)
        throw this.layout(
          text === undefined
            ? `cell ${date.cell.toUpperCase()} is empty: no dataset date`
            : `cell ${date.cell.toUpperCase()} holds ${JSON.stringify(text)}, not a date written ${date.format ?? 'yyyy-MM-dd'}`,
        );
    }
  }

  /** Opens the dataset in the load's transaction; its id goes into every row. */
  async open(tx: SqlClient): Promise<{ id: string }> {
    this.contentDate = undefined;
    this.id = await openDataset(tx, {
      label: this.label,
      date: this.date,
      rule: this.rule,
      targetTable: this.target,
      fileName: this.fileName,
    });
    return { id: this.id };
  }

  /**
   * The file's rows as the dataset reads them: an empty file is an empty dataset (one batch without
   * columns), and the first value of the date column is kept.
   */
  async *read(rows: AsyncIterable<BatchResult>): AsyncIterable<BatchResult> {
    const fromColumn = this.spec.date?.from === 'column' ? this.spec.date.column : undefined;
    let first = true;
    try {
      for await (const result of rows) {
        if (first && fromColumn !== undefined) {
          this.dateColumn = findColumn(result.batch.columns, fromColumn);
          if (this.dateColumn < 0)
            throw this.layout(
              `the file has no column "${fromColumn}" to read the dataset date from; it has ${result.batch.columns.map((c) => `"${c.name}"`).join(', ')}`,
            );
        }
        first = false;
        if (this.dateColumn >= 0 && this.contentDate == null) {
          for (const row of result.batch.rows) {
            const value = row[this.dateColumn];
            if (value != null) {
              this.contentDate = value;
              break;
            }
          }
        }
        yield result;
      }
    } catch (error) {
      if (!first || !isSluiceError(error, 'FILE_EMPTY')) throw error;
      yield {
        batch: { columns: [], rows: [], origin: this.fileName, lines: [] },
        rejects: [],
        rejectedRows: 0,
      };
    }
  }

  /** Makes the dataset the current one of its label and date, in the load's transaction. */
  async close(
    tx: SqlClient,
    load: { rowsLoaded: number; columns?: LoadResult['columns']; fileId: string | null; runId: string },
  ): Promise<DatasetReport> {
    if (this.spec.date?.from === 'column' && load.rowsLoaded > 0) {
      const raw = this.contentDate;
      this.date = dateFromValue(raw == null ? undefined : valueText(raw), this.spec.date.format) ?? null;
      if (!this.date)
        throw this.layout(
          raw == null
            ? `column "${this.spec.date.column}" is empty in every row: no dataset date`
            : `column "${this.spec.date.column}" holds ${JSON.stringify(valueText(raw))}, not a date written ${this.spec.date.format ?? 'yyyy-MM-dd'}`,
        );
    }
    const activated = await activateDataset(tx, {
      id: this.id!,
      label: this.label,
      date: this.date,
      rowCount: load.rowsLoaded,
      fileId: load.fileId,
      runId: load.runId,
      columnMap: (load.columns ?? []).map((c) => ({ header: c.source, column: c.target })),
    });
    return { id: this.id!, label: this.label, date: this.date, ...activated };
  }

  /** A file rejected, or whose load failed: a failed dataset saying why. */
  async failed(
    db: SqlClient,
    failure: { reason: string; fileId: string | null; runId: string | null },
  ): Promise<DatasetReport> {
    const id = await recordFailedDataset(db, {
      label: this.label,
      date: this.date,
      rule: this.rule,
      targetTable: this.target,
      fileName: this.fileName,
      fileId: failure.fileId,
      runId: failure.runId,
      error: failure.reason,
    });
    return { id, label: this.label, date: this.date, status: 'failed', superseded: [] };
  }

  private layout(message: string): SluiceError {
    return new SluiceError('LAYOUT_MISMATCH', message, {
      where: this.fileName,
      hint: this.spec.rule
        ? `Fix the file, or the dataset date of import rule ${this.spec.rule}.`
        : 'Fix the file, or dataset.date of the pipeline.',
    });
  }
}

/** A column by its name as written, or as it reads once normalized. */
function findColumn(columns: readonly { name: string }[], wanted: string): number {
  const exact = columns.findIndex((c) => c.name === wanted);
  if (exact >= 0) return exact;
  const normalized = normalizeColumnName(wanted);
  return columns.findIndex((c) => normalizeColumnName(c.name) === normalized);
}

function valueText(value: Value): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
