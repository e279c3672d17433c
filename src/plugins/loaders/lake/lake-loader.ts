import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import {
  createFormatWriter,
  zstdAvailable,
  type FileFormat,
  type FormatOptions,
} from '../../../connectors/file-formats/index.js';
import { readFormatRows } from '../../../connectors/file-formats/format-reader.js';
import { typedValue } from '../../../connectors/file-formats/typed-values.js';
import { joinKey, type ObjectStore } from '../../../connectors/s3/object-store.js';
import { SluiceError } from '../../../core/errors.js';
import {
  defineLoader,
  type LoadSession,
  type LoadUnit,
  type PluginContext,
  type RunInfo,
} from '../../../core/plugin.js';
import type { Column, RecordBatch, Reject, Row } from '../../../core/records.js';
import type { SqlClient } from '../../../core/sql.js';
import { instantOf, lakeKeys, partitionOf, versionId } from './lake-layout.js';
import {
  createVersion,
  deleteVersion,
  deleteVersionFiles,
  filesOf,
  joinVersion,
  lakeDataset,
  markReady,
  openVersion,
  replaceUnitFiles,
  setVersionColumns,
  upsertLakeDataset,
  versionOf,
  type LakeFileRow,
  type LakeVersionRow,
} from './lake-ledger.js';
import { lakeOptions, lakeSettings, type LakeOptions } from './lake-options.js';
import { flipPointer } from './lake-publish.js';
import { buildManifest, manifestFile, type Manifest, type ManifestFile } from './manifest.js';
import { openLakeStore } from './open-lake-store.js';
import { PartitionWriters } from './partition-writers.js';

/**
 * The `lake` loader: each run's rows become a version of a dataset in a folder or an S3 bucket. Units write
 * their partition files into the open version and record them in their load transaction; the run's last
 * transaction merges a delta, writes the manifest and marks the version ready; after the run committed,
 * `publish` flips the pointer. A crash anywhere leaves the pointer on the previous version, and the next run
 * continues the same open version (see migration 008).
 */
export const lakeLoader = defineLoader({
  name: 'lake',
  summary:
    'Versioned datasets as Parquet, JSON lines or CSV in a folder or S3: Hive partitions, a manifest per version, a pointer flipped last.',
  options: lakeOptions,
  capabilities: { modes: ['replace', 'merge'], transactional: true, maxIdentifierLength: 1000 },
  writeMode: (options) => (options.version === 'delta' ? 'merge' : 'replace'),
  async open(options, context) {
    if (options.format === 'parquet' && options.compression === 'zstd' && !zstdAvailable())
      throw new SluiceError(
        'CONFIG_INVALID',
        `compression zstd needs Node 22.15 or later (this is ${process.version})`,
        { where: 'load.compression', hint: 'Use compression: snappy, or run Sluice on Node 22 or 24.' },
      );
    const { url, ...s3 } = { url: options.url, ...(options.s3 ?? {}) };
    return new LakeSession(options, context, await openLakeStore(url, s3));
  },
});

/** Uploads in flight at once per unit. */
const UPLOADS = 8;

/** Runs `work` on every item, at most `limit` at a time; the first failure is thrown once all settled. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
) {
  let next = 0;
  const errors: unknown[] = [];
  const lane = async () => {
    while (next < items.length && errors.length === 0) {
      const i = next++;
      await work(items[i]!, i).catch((error: unknown) => {
        errors.push(error);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (errors.length > 0) throw errors[0];
}

class LakeSession implements LoadSession {
  readonly target: string;
  private version: string | undefined;
  private readonly formatOptions: FormatOptions;

  constructor(
    private readonly options: LakeOptions,
    private readonly context: PluginContext,
    private readonly store: ObjectStore,
  ) {
    this.target = `lake dataset ${options.dataset}`;
    this.formatOptions = { parquet: { codec: options.compression } };
  }

  private get dataset() {
    return this.options.dataset;
  }

  async startRun(tx: SqlClient, run: RunInfo): Promise<void> {
    if (this.context.dryRun) return;
    await upsertLakeDataset(tx, {
      id: this.dataset,
      location: this.store.location,
      settings: lakeSettings(this.options),
    });
    let open = await openVersion(tx, this.dataset);
    if (open?.status === 'ready') {
      // A version whose run committed but whose pointer was never flipped (the process died, S3 was down).
      await flipPointer(this.store, tx, this.dataset, open.version, 'publish');
      this.context.logger.info(
        `published version ${open.version} of ${this.dataset}, left ready by an earlier run`,
      );
      open = undefined;
    }
    if (open) {
      await joinVersion(tx, this.dataset, open.version, run.runId);
      this.version = open.version;
      return;
    }
    this.version = versionId(new Date());
    await createVersion(tx, {
      dataset: this.dataset,
      version: this.version,
      mode: this.options.version,
      runId: run.runId,
    });
  }

  async load(tx: SqlClient, batches: AsyncIterable<RecordBatch>, unit: LoadUnit) {
    if (this.context.dryRun || !this.version) {
      let rows = 0;
      for await (const batch of batches) rows += batch.rows.length;
      return { rowsLoaded: rows };
    }
    const version = this.version;
    const tag = createHash('sha256').update(unit.key).digest('hex').slice(0, 16);
    const dir = path.join(this.context.workDir, 'lake', tag);
    const writers = new PartitionWriters(dir, tag, this.options.format, this.formatOptions);
    const strategy = this.options.partition;
    let at: { series: number; time: number } | undefined;
    let loaded = 0;
    try {
      for await (const batch of batches) {
        if (batch.rows.length === 0) continue;
        if (!at) {
          at = this.columnsOf(batch.columns);
          await setVersionColumns(tx, this.dataset, version, batch.columns);
        }
        const groups = new Map<string, { rows: Row[]; series: string | null; min?: Date; max?: Date }>();
        const rejects: Reject[] = [];
        for (let i = 0; i < batch.rows.length; i++) {
          const row = batch.rows[i]!;
          const time = at.time >= 0 ? instantOf(row[at.time] ?? null) : undefined;
          const seriesValue = at.series >= 0 ? row[at.series] : null;
          const series =
            seriesValue === null || seriesValue === undefined || seriesValue === ''
              ? null
              : String(seriesValue);
          const problem =
            strategy !== 'none' && !time
              ? `no ${this.options.timeColumn} to partition by`
              : strategy === 'series_year_month' && series === null
                ? `no ${this.options.seriesColumn} to partition by`
                : undefined;
          if (problem) {
            rejects.push({
              origin: batch.origin,
              line: batch.lines[i] ?? null,
              column: problem.includes(this.options.timeColumn)
                ? this.options.timeColumn
                : this.options.seriesColumn,
              rule: 'lakePartition',
              value: null,
              message: problem,
              raw: batch.raw?.[i] ?? null,
            });
            continue;
          }
          const partition = time ? partitionOf(strategy, series, time) : '';
          let group = groups.get(partition);
          if (!group) groups.set(partition, (group = { rows: [], series }));
          group.rows.push(row);
          if (time && (!group.min || time < group.min)) group.min = time;
          if (time && (!group.max || time > group.max)) group.max = time;
        }
        if (rejects.length > 0) {
          if (!unit.reject) throw new SluiceError('LOAD_FAILED', rejects[0]!.message, { where: unit.origin });
          await unit.reject(rejects);
        }
        for (const [partition, g] of groups) {
          await writers.write(partition, batch.columns, g.rows, {
            series: g.series,
            minTime: g.min,
            maxTime: g.max,
          });
          loaded += g.rows.length;
        }
        await writers.relieve();
      }
      const files = await writers.end();
      const base =
        this.options.version === 'delta'
          ? lakeKeys.delta(this.dataset, version)
          : lakeKeys.data(this.dataset, version);
      const rows: Omit<LakeFileRow, 'unit_key'>[] = files.map((f) => ({
        key: joinKey(base, f.partition, f.name),
        partition: f.partition,
        rows: String(f.rows),
        bytes: String(f.bytes),
        sha256: f.sha256,
        series: f.series,
        min_time: f.minTime?.toISOString() ?? null,
        max_time: f.maxTime?.toISOString() ?? null,
      }));
      // Several uploads at a time: a unit may write hundreds of small partition files.
      await inParallel(files, UPLOADS, (f, i) => this.store.putFile(rows[i]!.key, f.local, f.bytes));
      await replaceUnitFiles(tx, this.dataset, version, unit.key, rows);
      return { rowsLoaded: loaded };
    } finally {
      await writers.end().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }

  async afterLoad(): Promise<void> {}

  async finishRun(tx: SqlClient): Promise<void> {
    if (this.context.dryRun) return;
    const v = await openVersion(tx, this.dataset);
    if (!v || v.status !== 'staged') return;
    let files = await filesOf(tx, this.dataset, v.version);
    const rowCount = files.reduce((n, f) => n + Number(f.rows), 0);
    if (rowCount === 0) {
      // Nothing new: no version at all (its folder may hold files of attempts that never committed).
      await deleteVersion(tx, this.dataset, v.version);
      await this.store.delete(await this.store.list(lakeKeys.version(this.dataset, v.version)));
      this.context.logger.info(`no new rows for ${this.dataset}: no version made`, { outcome: true });
      return;
    }
    const basedOn = (await lakeDataset(tx, this.dataset))?.current_version ?? null;
    if (v.mode === 'delta') files = await this.merge(tx, v, basedOn, files);
    const listed = files.map(manifestFile);
    // Files of attempts that never committed are not part of the version: a Hive reader of data/ must not see them.
    const known = new Set(listed.map((f) => f.path));
    const strays = (await this.store.list(lakeKeys.data(this.dataset, v.version))).filter(
      (k) => !known.has(k),
    );
    await this.store.delete(strays);
    const manifest = buildManifest(v, listed, {
      format: this.options.format,
      compression: this.options.compression,
      partitionStrategy: this.options.partition,
      basedOn: v.mode === 'delta' ? basedOn : null,
    });
    const manifestKey = lakeKeys.manifest(this.dataset, v.version);
    await this.store.putText(manifestKey, `${JSON.stringify(manifest, null, 2)}\n`);
    await markReady(tx, {
      dataset: this.dataset,
      version: v.version,
      basedOn: manifest.basedOn,
      rows: manifest.rows,
      manifestKey,
      manifest,
    });
  }

  async publish(_run: RunInfo, db: SqlClient): Promise<void> {
    try {
      const v = await openVersion(db, this.dataset);
      if (!v || v.status !== 'ready') return;
      await flipPointer(this.store, db, this.dataset, v.version, 'publish');
      // A delta's own rows are merged into data/ now: its staging files go.
      await this.store.delete(await this.store.list(lakeKeys.delta(this.dataset, v.version)));
      const manifest = v.manifest as unknown as Manifest | null;
      this.context.logger.info(
        `published version ${v.version} of ${this.dataset}: ${manifest?.rows ?? v.rows} rows in ${manifest?.files.length ?? 0} files`,
        {
          outcome: true,
          published: {
            dataset: this.dataset,
            version: v.version,
            manifest: this.store.describe(v.manifest_key ?? lakeKeys.manifest(this.dataset, v.version)),
            rows: Number(manifest?.rows ?? v.rows),
          },
        },
      );
    } finally {
      await this.store.close();
    }
  }

  /** Where the series and time columns are; a missing one the partitioning needs is a clear error. */
  private columnsOf(columns: readonly Column[]) {
    const find = (name: string) => columns.findIndex((c) => c.name === name);
    const at = { series: find(this.options.seriesColumn), time: find(this.options.timeColumn) };
    const need = (what: string, index: number) => {
      if (index < 0)
        throw new SluiceError(
          'TARGET_MISMATCH',
          `the lake partitions by ${what}, which the rows do not have (they have ${columns.map((c) => c.name).join(', ')})`,
          { hint: 'Set load.seriesColumn / load.timeColumn, or partition: none.' },
        );
    };
    if (this.options.partition !== 'none') need(`column ${this.options.timeColumn}`, at.time);
    if (this.options.partition === 'series_year_month')
      need(`column ${this.options.seriesColumn}`, at.series);
    return at;
  }

  /**
   * A delta merged into the version it is based on: each partition the delta touches is read back (the
   * base's files, then the delta's in write order, a later row replacing an earlier one of the same keys)
   * and written once; the partitions it does not touch are copied as they are.
   */
  private async merge(
    tx: SqlClient,
    v: LakeVersionRow,
    basedOn: string | null,
    delta: LakeFileRow[],
  ): Promise<LakeFileRow[]> {
    const columns = (v.columns ?? []) as Column[];
    const keyNames = this.options.keys ?? [this.options.seriesColumn, this.options.timeColumn];
    const keyAt = keyNames.map((k) => {
      const i = columns.findIndex((c) => c.name === k);
      if (i < 0)
        throw new SluiceError(
          'CONFIG_INVALID',
          `delta key ${k} is not a column of the rows (${columns.map((c) => c.name).join(', ')})`,
          {
            where: 'load.keys',
          },
        );
      return i;
    });
    const keyOf = (row: Row) =>
      JSON.stringify(
        keyAt.map((i) => {
          const t = typedValue(columns[i]!, row[i] ?? null);
          return t instanceof Date ? t.toISOString() : typeof t === 'bigint' ? t.toString() : t;
        }),
      );
    const base = basedOn
      ? ((await versionOf(tx, this.dataset, basedOn))?.manifest as unknown as Manifest | null)
      : null;
    const baseFiles: ManifestFile[] = base?.files ?? [];
    const baseFormat: FileFormat = base?.format ?? this.options.format;
    const touched = [...new Set(delta.map((f) => f.partition))];
    const dataKey = lakeKeys.data(this.dataset, v.version);
    const out: LakeFileRow[] = [];
    for (const partition of touched) {
      const merged = new Map<string, Row>();
      const add = async (format: FileFormat, key: string) => {
        const bytes = await this.store.get(key);
        if (!bytes)
          throw new SluiceError('LOAD_FAILED', `${key} is missing from the lake`, { retryable: true });
        for (const row of await readFormatRows(format, bytes, columns)) merged.set(keyOf(row), row);
      };
      for (const f of baseFiles.filter((f) => f.partition === partition)) await add(baseFormat, f.path);
      for (const f of delta.filter((f) => f.partition === partition)) await add(this.options.format, f.key);
      const name = `part-merged-0000.${this.options.format}`;
      const local = path.join(
        this.context.workDir,
        `merge-${createHash('sha256').update(partition).digest('hex').slice(0, 12)}.${this.options.format}`,
      );
      const writer = await createFormatWriter(
        this.options.format,
        createWriteStream(local),
        this.formatOptions,
      );
      const rows = [...merged.values()];
      for (let i = 0; i < rows.length; i += 10_000) await writer.write(columns, rows.slice(i, i + 10_000));
      const written = await writer.end();
      const key = joinKey(dataKey, partition, name);
      await this.store.putFile(key, local, written.bytes);
      await rm(local, { force: true });
      const series = new Set<string>();
      let min: string | null = null;
      let max: string | null = null;
      for (const f of [...baseFiles.filter((f) => f.partition === partition)]) {
        f.series.forEach((s) => series.add(s));
        if (f.minTime && (!min || f.minTime < min)) min = f.minTime;
        if (f.maxTime && (!max || f.maxTime > max)) max = f.maxTime;
      }
      for (const f of delta.filter((f) => f.partition === partition)) {
        f.series.forEach((s) => series.add(s));
        const lo = f.min_time ? new Date(f.min_time).toISOString() : null;
        const hi = f.max_time ? new Date(f.max_time).toISOString() : null;
        if (lo && (!min || lo < min)) min = lo;
        if (hi && (!max || hi > max)) max = hi;
      }
      out.push({
        key,
        partition,
        unit_key: 'merge',
        rows: String(written.rows),
        bytes: String(written.bytes),
        sha256: written.sha256,
        series: [...series].sort(),
        min_time: min,
        max_time: max,
      });
    }
    for (const f of baseFiles.filter((f) => !touched.includes(f.partition))) {
      const key = joinKey(dataKey, f.partition, path.posix.basename(f.path));
      await this.store.copy(f.path, key);
      out.push({
        key,
        partition: f.partition,
        unit_key: 'merge',
        rows: String(f.rows),
        bytes: String(f.bytes),
        sha256: f.sha256,
        series: f.series,
        min_time: f.minTime,
        max_time: f.maxTime,
      });
    }
    await deleteVersionFiles(tx, this.dataset, v.version);
    await replaceUnitFiles(tx, this.dataset, v.version, 'merge', out);
    return out;
  }
}
