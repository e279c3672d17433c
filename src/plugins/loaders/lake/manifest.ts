import type { FileFormat } from '../../../connectors/file-formats/index.js';
import type { LakeFileRow, LakeVersionRow } from './lake-ledger.js';
import type { PartitionStrategy } from './lake-options.js';

/** One data file of a version, as its manifest lists it. `path` is the key from the lake's root. */
export interface ManifestFile {
  path: string;
  partition: string;
  rows: number;
  bytes: number;
  sha256: string;
  series: string[];
  minTime: string | null;
  maxTime: string | null;
}

/** `versions/{version}/manifest.json`: what a version holds, written before the pointer names it. */
export interface Manifest {
  version: string;
  dataset: string;
  createdAt: string;
  mode: 'full' | 'delta';
  /** The version a delta was merged into. */
  basedOn: string | null;
  rows: number;
  series: string[];
  dateRange: { from: string | null; to: string | null };
  format: FileFormat;
  compression: string;
  partitionStrategy: PartitionStrategy;
  partitions: string[];
  files: ManifestFile[];
  /** The runs whose rows it holds (more than one when a run resumed or continued a failed one). */
  runs: string[];
}

export function manifestFile(f: LakeFileRow): ManifestFile {
  return {
    path: f.key,
    partition: f.partition,
    rows: Number(f.rows),
    bytes: Number(f.bytes),
    sha256: f.sha256,
    series: f.series,
    minTime: f.min_time ? new Date(f.min_time).toISOString() : null,
    maxTime: f.max_time ? new Date(f.max_time).toISOString() : null,
  };
}

export function buildManifest(
  v: LakeVersionRow,
  files: ManifestFile[],
  settings: {
    format: FileFormat;
    compression: string;
    partitionStrategy: PartitionStrategy;
    basedOn: string | null;
  },
): Manifest {
  const series = new Set<string>();
  let from: string | null = null;
  let to: string | null = null;
  for (const f of files) {
    for (const s of f.series) series.add(s);
    if (f.minTime && (from === null || f.minTime < from)) from = f.minTime;
    if (f.maxTime && (to === null || f.maxTime > to)) to = f.maxTime;
  }
  return {
    version: v.version,
    dataset: v.dataset,
    createdAt: new Date(v.created_at).toISOString(),
    mode: v.mode,
    basedOn: settings.basedOn,
    rows: files.reduce((n, f) => n + f.rows, 0),
    series: [...series].sort(),
    dateRange: { from, to },
    format: settings.format,
    compression: settings.format === 'parquet' ? settings.compression : 'none',
    partitionStrategy: settings.partitionStrategy,
    partitions: [...new Set(files.map((f) => f.partition))].sort(),
    files,
    runs: v.run_ids,
  };
}
