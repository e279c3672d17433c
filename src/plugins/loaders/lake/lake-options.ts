import { z } from 'zod';
import { pathOption } from '../../../core/path-option.js';

export const partitionStrategies = ['series_year_month', 'year_month', 'none'] as const;
export type PartitionStrategy = (typeof partitionStrategies)[number];

/** The `lake` loader's options: the single spec for validation, `sluice plugins` and the JSON Schema. */
export const lakeOptions = z.strictObject({
  dataset: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'letters, digits, "_", "." or "-" (at most 100)')
    .describe('The dataset id: its files go under datasets/{dataset}/ of the lake.'),
  url: pathOption().describe(
    "Where the lake is: a local folder (relative to the pipeline file's folder) or s3://bucket/prefix.",
  ),
  s3: z
    .strictObject({
      endpoint: z
        .string()
        .url()
        .optional()
        .describe('URL of an S3-compatible server (MinIO, Ceph…); AWS when absent.'),
      region: z.string().optional().describe('Region (default AWS_REGION, else us-east-1).'),
      pathStyle: z
        .boolean()
        .optional()
        .describe('Path-style addressing (endpoint/bucket/key); on by default with an endpoint.'),
      username: z.string().optional().describe('Access key id; the AWS credential chain when absent.'),
      password: z.string().optional().describe('Secret access key.'),
    })
    .optional()
    .describe('How to reach S3, for an s3:// url.'),
  format: z.enum(['parquet', 'jsonl', 'csv']).default('parquet').describe('File format of the data files.'),
  compression: z
    .enum(['snappy', 'zstd', 'none'])
    .default('snappy')
    .describe('Parquet compression: snappy (default), zstd (Node 22.15 or later) or none.'),
  partition: z
    .enum(partitionStrategies)
    .default('series_year_month')
    .describe('Hive-style folders: series=…/year=YYYY/month=MM/ (default), year=…/month=…/, or none.'),
  seriesColumn: z
    .string()
    .default('internal_series_code')
    .describe('The column whose value names the series (series_year_month).'),
  timeColumn: z
    .string()
    .default('obs_time')
    .describe('The column whose date (in UTC) gives the year and month partitions.'),
  version: z
    .enum(['full', 'delta'])
    .default('full')
    .describe(
      "full: a version holds the run's rows; delta: the run's rows merged on `keys` into the current version.",
    ),
  keys: z
    .array(z.string())
    .min(1)
    .optional()
    .describe('Columns that identify a row for a delta merge (default: the series and time columns).'),
});

export type LakeOptions = z.output<typeof lakeOptions>;

/** The options that say where the lake is and how to reach it, without secrets: kept with the dataset. */
export function lakeSettings(options: LakeOptions): Record<string, unknown> {
  const { password: _secret, username: _user, ...s3 } = options.s3 ?? {};
  return {
    url: options.url,
    ...(options.s3 ? { s3 } : {}),
    format: options.format,
    compression: options.compression,
    partition: options.partition,
    version: options.version,
  };
}
