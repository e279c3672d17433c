/** Counts a run keeps in `sluice.runs`, added to in each unit's transaction. */
export interface FileCounts {
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  filesLoaded: number;
  filesRejected: number;
  filesSkipped: number;
}

/** What became of one unit of a run: a file, or a unit of a record source (a table, a scanned range). */
export interface FileReport {
  name: string;
  status: 'loaded' | 'skipped' | 'rejected';
  reason?: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  /** The ledger entry of a loaded file. */
  ledgerId?: string;
  /** State a record unit saved with its load (its watermark). */
  state?: Record<string, unknown>;
  /** The dataset the file became (pipelines with `dataset:`). */
  dataset?: DatasetReport;
  /** What the source did with the file once its outcome committed (`deleted at the source`, `moved to …`). */
  atSource?: string;
}

/** What a file's dataset came to. */
export interface DatasetReport {
  id: string;
  label: string;
  date: string | null;
  status: 'active' | 'empty' | 'failed';
  /** Datasets this one replaced (now inactive). */
  superseded: string[];
}

/**
 * How a run ended. `skipped`: inside the refresh window, nothing ran and no run was recorded; `stopped`:
 * interrupted on purpose (Ctrl-C, SIGTERM, shutdown), what committed stays and the next run resumes it.
 */
export type RunOutcome = 'succeeded' | 'failed' | 'skipped' | 'stopped';

/** The outcome of one run, as the CLI prints it, the API returns it and notices describe it. */
export interface RunSummary extends FileCounts {
  runId: string;
  pipeline: string;
  status: RunOutcome;
  asOf: string;
  dryRun: boolean;
  resumed: boolean;
  files: FileReport[];
  /** The zip the run's files went into. */
  archive?: string;
  durationMs: number;
  /** Milliseconds per step (connect, fetch, hash, load, archive, settle, finish), summed over units. */
  timings: Record<string, number>;
  error?: { code: string; message: string };
  skipReason?: string;
  /** Everything logged as a warning (decoding trouble, skipped entries, renamed columns), for the user. */
  warnings: string[];
  /** What the run's plugins did beyond the rows (`downloaded 3 files, 2 unchanged`). */
  outcomes?: string[];
  /** Dataset versions the run made visible (the lake's pointer flipped to them). */
  published?: PublishedVersion[];
  /** The request the run was for (a queued job, an API call). */
  requestId?: string;
  /**
   * True when the request had already been run: the summary is that run's, read back from the ledger
   * (a job delivered twice runs its pipeline once).
   */
  replayed?: boolean;
}

/**
 * A dataset version a run published. A loader reports one by logging a line with `{ published }` in its
 * data; the runner puts it in the summary, and `notify.on: [version]` sends a notice for it.
 */
export interface PublishedVersion {
  dataset: string;
  version: string;
  /** Where the version's manifest is (`s3://bucket/prefix/datasets/…/manifest.json`, or a file path). */
  manifest: string;
  rows: number;
}

/** How far a run is, for progress bars and live views. */
export interface Progress {
  file: string | null;
  filesSeen: number;
  filesTotal: number;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
}

/** The summary of a run that has done nothing yet: no files, no rows, succeeded until something fails. */
export function emptyRunSummary(runId: string, pipeline: string, asOf: string, dryRun: boolean): RunSummary {
  return {
    runId,
    pipeline,
    status: 'succeeded',
    asOf,
    dryRun,
    resumed: false,
    files: [],
    rowsRead: 0,
    rowsLoaded: 0,
    rowsRejected: 0,
    filesLoaded: 0,
    filesRejected: 0,
    filesSkipped: 0,
    durationMs: 0,
    timings: {},
    warnings: [],
  };
}
