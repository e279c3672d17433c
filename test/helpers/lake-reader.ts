import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore } from '../../src/connectors/s3/object-store.js';

/**
 * What a reader of the lake sees, as one would read it: the pointer, then the manifest it names, then every
 * file the manifest lists. Throws when any of them is missing.
 */
export async function readCurrentVersion(store: ObjectStore, dataset: string) {
  const pointer = (await store.get(`datasets/${dataset}/index/current_version.txt`))?.toString().trim();
  if (!pointer) return undefined;
  const manifestBytes = await store.get(`datasets/${dataset}/versions/${pointer}/manifest.json`);
  if (!manifestBytes) throw new Error(`the pointer names ${pointer}, whose manifest is missing`);
  const manifest = JSON.parse(manifestBytes.toString()) as {
    version: string;
    rows: number;
    files: { path: string; bytes: number }[];
    partitions: string[];
    series: string[];
    dateRange: { from: string; to: string };
    runs: string[];
    basedOn: string | null;
  };
  for (const f of manifest.files)
    if (!(await store.get(f.path))) throw new Error(`version ${pointer} lists ${f.path}, which is missing`);
  return { version: pointer, manifest };
}

/** Copies a version's data files into a local folder (same partition folders) for DuckDB to read. */
export async function downloadVersion(store: ObjectStore, dataset: string, version: string, to: string) {
  const prefix = `datasets/${dataset}/versions/${version}/data/`;
  for (const key of await store.list(prefix.slice(0, -1))) {
    const target = path.join(to, key.slice(prefix.length));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, (await store.get(key))!);
  }
  return to;
}

/** Rows of the Parquet files under `folder` with their Hive partitions, read by DuckDB, with the column types. */
export async function duckdbRead(folder: string, orderBy: string) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const glob = path.join(folder, '**', '*.parquet').replace(/'/g, "''");
    const reader = await connection.runAndReadAll(
      `SELECT * FROM read_parquet('${glob}', hive_partitioning = true) ORDER BY ${orderBy}`,
    );
    const names = reader.columnNames();
    const types = reader.columnTypes().map((t) => t.toString());
    return {
      rows: reader.getRowObjectsJS(),
      types: Object.fromEntries(names.map((n, i) => [n, types[i]!])),
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
