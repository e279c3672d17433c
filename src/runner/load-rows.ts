import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type {
  BatchResult,
  LoadResult,
  LoadSession,
  LoadUnit,
  PluginContext,
  TransformFunction,
} from '../core/plugin.js';
import type { RecordBatch } from '../core/records.js';
import type { SqlClient } from '../core/sql.js';
import { abortError } from './abort.js';
import { RejectSpool } from './reject-spool.js';

/** The stages rows go through once read: checks, transforms, the loader. */
export interface LoadStages {
  pipeline: string;
  runId: string;
  asOf: string;
  check: ((input: BatchResult) => BatchResult) | undefined;
  transforms: TransformFunction[];
  loader: LoadSession;
  context: PluginContext;
  /** Rows read and rejected so far in the unit being loaded, for progress. */
  onRows: (read: number, rejected: number) => void;
}

export interface RowCounts {
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
}

/** What a unit's load gives back: its counts, and for a dataset where each source column went. */
export interface RowsLoaded extends RowCounts {
  columns?: LoadResult['columns'];
  /** State entries the parser handed over with its batches (`BatchResult.state`), to save with the unit. */
  state?: Record<string, unknown>;
}

export interface RowsInput {
  origin: string;
  key: string;
  firstOfRun: boolean;
  fileId: string | null;
  read: () => AsyncIterable<BatchResult>;
  uniqueBy?: readonly string[];
  dataset?: { id: string };
}

/**
 * Rows of one unit (a file, a table) through the checks and transforms into the loader, inside `tx`: the
 * rejects (the checks' and the loader's) are spooled and copied into `sluice.rejects` in the same
 * transaction, then the loader's SQL steps run.
 */
export async function loadRows(tx: SqlClient, stages: LoadStages, input: RowsInput): Promise<RowsLoaded> {
  const { context } = stages;
  const spool = new RejectSpool(path.join(context.workDir, `rejects-${randomUUID()}.copy`), {
    runId: stages.runId,
    pipeline: stages.pipeline,
    fileId: input.fileId,
  });
  let rowsRead = 0;
  let rowsRejected = 0;
  let state: Record<string, unknown> | undefined;
  stages.onRows(0, 0);
  async function* batches(): AsyncIterable<RecordBatch> {
    for await (const read of input.read()) {
      if (context.signal.aborted) throw abortError(context.signal);
      rowsRead += read.batch.rows.length + read.rejectedRows; // before the checks take rows out
      if (read.state) state = { ...state, ...read.state };
      let result = stages.check ? stages.check(read) : read;
      for (const transform of stages.transforms) result = transform(result);
      rowsRejected += result.rejectedRows;
      await spool.add(result.rejects);
      stages.onRows(rowsRead, rowsRejected);
      yield result.batch;
    }
    // Rows a transform held until the unit's end go on through the transforms after it.
    for (let t = 0; t < stages.transforms.length; t++) {
      let result = stages.transforms[t]!.endUnit?.();
      if (!result) continue;
      for (const transform of stages.transforms.slice(t + 1)) result = transform(result);
      rowsRejected += result.rejectedRows;
      await spool.add(result.rejects);
      stages.onRows(rowsRead, rowsRejected);
      yield result.batch;
    }
  }
  try {
    const unit: LoadUnit = {
      runId: stages.runId,
      asOf: stages.asOf,
      origin: input.origin,
      key: input.key,
      firstOfRun: input.firstOfRun,
      ...(input.uniqueBy ? { uniqueBy: input.uniqueBy } : {}),
      ...(input.dataset ? { dataset: input.dataset } : {}),
      // Rows the loader refuses (a null merge key) are rejects of this unit like the check's.
      reject: async (rejects) => {
        rowsRejected += rejects.length;
        stages.onRows(rowsRead, rowsRejected);
        await spool.add(rejects);
      },
    };
    const { rowsLoaded, columns } = await stages.loader.load(tx, batches(), unit);
    await spool.flush(tx);
    await stages.loader.afterLoad(tx, unit);
    return {
      rowsRead,
      rowsLoaded,
      rowsRejected,
      ...(columns ? { columns } : {}),
      ...(state ? { state } : {}),
    };
  } finally {
    // A unit that failed part-way leaves nothing held for the next one (or its retry).
    for (const transform of stages.transforms) transform.endUnit?.();
    await spool.discard();
  }
}
