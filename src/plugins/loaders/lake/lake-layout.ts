import type { FileFormat } from '../../../connectors/file-formats/index.js';
import { parseInstant } from '../../../connectors/file-formats/typed-values.js';
import { joinKey } from '../../../connectors/s3/object-store.js';
import type { Value } from '../../../core/records.js';
import type { PartitionStrategy } from './lake-options.js';

/**
 * Where things are in a lake, as seed 002 lays it out:
 * `datasets/{id}/versions/{version}/data/{partition}/part-….{ext}`, `…/versions/{version}/manifest.json`,
 * `datasets/{id}/index/current_version.txt` (the pointer readers follow).
 */
export const lakeKeys = {
  dataset: (id: string) => joinKey('datasets', id),
  pointer: (id: string) => joinKey('datasets', id, 'index', 'current_version.txt'),
  version: (id: string, version: string) => joinKey('datasets', id, 'versions', version),
  manifest: (id: string, version: string) => joinKey('datasets', id, 'versions', version, 'manifest.json'),
  data: (id: string, version: string) => joinKey('datasets', id, 'versions', version, 'data'),
  /** A delta's own rows before they are merged into `data/`: never read as part of the version. */
  delta: (id: string, version: string) => joinKey('datasets', id, 'versions', version, 'delta'),
};

/** A version id from its creation time: `20260131T235900123Z`, sortable as text. */
export function versionId(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

/** The instant of a time value (a Date, ISO text, `YYYY-MM-DD`), or undefined when it is not one. */
export function instantOf(value: Value): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  return typeof value === 'string' ? parseInstant(value) : undefined;
}

/** A Hive partition value: `/`, `=` and other unsafe characters percent-encoded. */
function hiveValue(text: string): string {
  return encodeURIComponent(text);
}

/** The partition folder of a row (`series=X/year=2026/month=01`), `''` for none. */
export function partitionOf(strategy: PartitionStrategy, series: string | null, time: Date): string {
  const ym = `year=${time.getUTCFullYear()}/month=${String(time.getUTCMonth() + 1).padStart(2, '0')}`;
  if (strategy === 'none') return '';
  if (strategy === 'year_month') return ym;
  return `series=${hiveValue(series ?? '')}/${ym}`;
}

export function fileName(unitTag: string, part: number, format: FileFormat): string {
  return `part-${unitTag}-${String(part).padStart(4, '0')}.${format}`;
}
