import type { BatchResult } from '../core/plugin.js';
import type { FileCounts, FileReport } from '../core/run-summary.js';
import type { SqlClient } from '../core/sql.js';
import type { RowsLoaded } from './load-rows.js';

/** What a unit's transaction opens with: its ledger entry, and whether it is the run's first load. */
export interface UnitStart {
  fileId: string | null;
  firstOfRun: boolean;
  /** The key the loader records the unit under (see `LoadUnit.key`). */
  key: string;
  /** The dataset the unit's rows belong to. */
  dataset?: { id: string };
}

/** What a unit's transaction closes with, beside its rows. */
export interface UnitEnd {
  report: Partial<FileReport>;
  counts: Partial<FileCounts> & { unitsLoaded?: number };
  /** State entries written in the transaction (a watermark, an ETag). */
  state?: Record<string, unknown>;
}

/**
 * One thing a run loads in one transaction — a file of a file source, or a unit of a record source — with
 * the hooks that make them differ: a file is fetched, hashed and skipped when its content loaded before,
 * has a ledger entry, and is rejected whole when it breaks its layout; its source acts on it after the
 * commit. The run loop is the same for both.
 */
export interface RunUnit {
  name: string;
  /**
   * Work before the load; a report settles the unit without loading it (a duplicate skipped). Its errors
   * go through `failed` like the load's.
   */
  prepare(): Promise<FileReport | undefined>;
  /** In the unit's transaction, before its rows. Called once per attempt. */
  begin(tx: SqlClient): Promise<UnitStart>;
  read(): AsyncIterable<BatchResult>;
  uniqueBy?: readonly string[];
  /** In the unit's transaction, after its rows and rejects. */
  end(tx: SqlClient, start: UnitStart, loaded: RowsLoaded): Promise<UnitEnd>;
  /** A failed load: the report when the failure is the unit's alone (a file rejected), or undefined. */
  failed(error: unknown): Promise<FileReport | undefined>;
  /** After the unit's outcome committed (archive, act at the source). */
  done(report: FileReport): Promise<void>;
}

/** A source seen as units. */
export interface UnitSource {
  location: string;
  /** Units known before the first loads (files are listed first), for progress; 0 when unknown. */
  total: number;
  units(): AsyncIterable<RunUnit>;
  /** After the last unit: side effects still pending for what committed (archive, moves). */
  afterLoads(): Promise<void>;
  /** The zip the run's files went into, if any. */
  archive(): string | undefined;
  close(): Promise<void>;
}
