import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  createFormatWriter,
  type FileFormat,
  type FormatOptions,
  type FormatWriter,
} from '../../../connectors/file-formats/index.js';
import type { Column, Row } from '../../../core/records.js';
import { fileName } from './lake-layout.js';

/** A data file written locally, ready to upload into its partition. */
export interface PartitionFile {
  partition: string;
  name: string;
  local: string;
  rows: number;
  bytes: number;
  sha256: string;
  series: string[];
  minTime: Date | undefined;
  maxTime: Date | undefined;
}

interface Open {
  partition: string;
  name: string;
  local: string;
  writer: FormatWriter;
  series: Set<string>;
  minTime: Date | undefined;
  maxTime: Date | undefined;
}

// Rows held in memory by all open writers together (Parquet row groups filling up) before they are
// encoded, and files open at once: both bound what a unit with many partitions costs.
const PENDING_ROWS = 200_000;
const OPEN_FILES = 64;

/**
 * One file per partition a unit writes into, created as rows arrive. Memory stays flat: when the writers
 * together hold more than PENDING_ROWS rows they all encode what they hold (smaller row groups), and when
 * more than OPEN_FILES files are open they are all finished and the next rows of a partition go to its
 * next part file.
 */
export class PartitionWriters {
  private readonly open = new Map<string, Open>();
  private readonly done: PartitionFile[] = [];
  private part = 0;

  constructor(
    private readonly dir: string,
    private readonly unitTag: string,
    private readonly format: FileFormat,
    private readonly formatOptions: FormatOptions,
  ) {}

  async write(
    partition: string,
    columns: readonly Column[],
    rows: readonly Row[],
    stats: { series: string | null; minTime: Date | undefined; maxTime: Date | undefined },
  ): Promise<void> {
    let file = this.open.get(partition);
    if (!file) {
      if (this.open.size >= OPEN_FILES) await this.finishAll();
      file = await this.create(partition);
    }
    if (stats.series !== null) file.series.add(stats.series);
    if (stats.minTime && (!file.minTime || stats.minTime < file.minTime)) file.minTime = stats.minTime;
    if (stats.maxTime && (!file.maxTime || stats.maxTime > file.maxTime)) file.maxTime = stats.maxTime;
    await file.writer.write(columns, rows);
  }

  /** After each batch: encodes what the writers hold when it is too much. */
  async relieve(): Promise<void> {
    let pending = 0;
    for (const f of this.open.values()) pending += f.writer.pendingRows;
    if (pending > PENDING_ROWS) for (const f of this.open.values()) await f.writer.flush();
  }

  async end(): Promise<PartitionFile[]> {
    await this.finishAll();
    return this.done;
  }

  private async create(partition: string): Promise<Open> {
    const name = fileName(this.unitTag, this.part++, this.format);
    const folder = path.join(this.dir, ...partition.split('/').filter(Boolean));
    await mkdir(folder, { recursive: true });
    const local = path.join(folder, name);
    const writer = await createFormatWriter(this.format, createWriteStream(local), this.formatOptions);
    const file: Open = {
      partition,
      name,
      local,
      writer,
      series: new Set(),
      minTime: undefined,
      maxTime: undefined,
    };
    this.open.set(partition, file);
    return file;
  }

  private async finishAll(): Promise<void> {
    const open = [...this.open.values()];
    this.open.clear();
    // Ended together: each waits for its file to be flushed and closed.
    const ended = await Promise.all(open.map((f) => f.writer.end()));
    for (const [i, f] of open.entries()) {
      const written = ended[i]!;
      this.done.push({
        partition: f.partition,
        name: f.name,
        local: f.local,
        rows: written.rows,
        bytes: written.bytes,
        sha256: written.sha256,
        series: [...f.series].sort(),
        minTime: f.minTime,
        maxTime: f.maxTime,
      });
    }
  }
}
