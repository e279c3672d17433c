import path from 'node:path';
import { datasetLabel } from '../core/dataset-spec.js';
import { ruleDataset, type ImportRule } from '../core/import-rule-spec.js';
import type { Registry } from '../core/registry.js';
import { validatePipeline, type PipelineSpec } from '../core/spec.js';
import type { Database } from '../store/database.js';
import { failedDatasetOf, recordFailedDataset } from '../store/datasets.js';
import type { LogEntry } from '../store/step-log.js';
import { runPipeline } from './run-pipeline.js';

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
  /** Why it was skipped, rejected or failed. */
  reason?: string;
  /** The run's warnings (bytes not in the encoding, a delimiter that looks wrong…), as its summary has them. */
  warnings: string[];
}

/**
 * The pipeline that imports one file under a rule: a files source on that one file (moved to the archive
 * folder, or to `rejected/`, once its outcome committed), the rule's parser and options, the postgres
 * loader with the rule's schema strategy, and a `dataset:` section so the file becomes a dataset of the rule.
 */
export function importPipeline(rule: ImportRule, file: string, registry: Registry): PipelineSpec {
  const fileName = path.basename(file);
  return validatePipeline(
    {
      name: `import.${rule.name}`,
      description: `import rule ${rule.name}`,
      source: {
        type: 'files',
        url: path.dirname(path.resolve(file)),
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
        schema: rule.schema,
      },
      dataset: ruleDataset(rule),
    },
    { registry, file: `import rule ${rule.name}` },
  );
}

/**
 * Imports one file under a rule: its pipeline run by the one run entry point, so the ledger's
 * exactly-once, rejects, datasets and step log hold as for any pipeline.
 */
export async function importFile(options: ImportFileOptions): Promise<ImportResult> {
  const { db, rule } = options;
  const fileName = path.basename(options.file);
  const spec = importPipeline(rule, options.file, options.registry);
  const summary = await runPipeline({
    db,
    spec,
    registry: options.registry,
    home: options.home,
    ...(options.asOf ? { asOf: options.asOf } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });

  const report = summary.files[0];
  const dataset = report?.dataset;
  const result: ImportResult = {
    rule: rule.name,
    file: fileName,
    status: 'failed',
    runId: summary.runId,
    label: dataset?.label ?? datasetLabel(spec.dataset!, spec.name, fileName),
    date: dataset?.date ?? null,
    rowsLoaded: report?.rowsLoaded ?? 0,
    rowsRejected: report?.rowsRejected ?? 0,
    superseded: dataset?.superseded ?? [],
    warnings: summary.warnings,
  };
  const withDataset = dataset ? { datasetId: dataset.id, datasetStatus: dataset.status } : {};
  if (report?.status === 'loaded') return { ...result, ...withDataset, status: 'loaded' };
  if (report?.status === 'skipped') return { ...result, status: 'skipped', reason: report.reason ?? '' };
  if (report?.status === 'rejected')
    return { ...result, ...withDataset, status: 'rejected', reason: report.reason ?? 'rejected' };

  // The run failed (the runner recorded the file's failed dataset), or the file was not there.
  const reason = summary.error?.message ?? `${fileName} was not found in ${path.dirname(options.file)}`;
  const failed =
    (summary.runId ? await failedDatasetOf(db, summary.runId, fileName) : undefined) ??
    (await recordFailedDataset(db, {
      label: result.label,
      date: null,
      rule: rule.name,
      targetTable: rule.targetTable,
      fileName,
      fileId: null,
      runId: summary.runId || null,
      error: reason,
    }));
  return { ...result, datasetId: failed, datasetStatus: 'failed', reason };
}

/** A file name as a glob that matches only itself. */
function escapeGlob(name: string): string {
  return name.replace(/[\\*?[\]{}()!+@|^$.,]/g, '\\$&');
}
