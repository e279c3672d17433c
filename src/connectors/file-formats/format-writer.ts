import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Column, Row } from '../../core/records.js';

/** The formats a file export or a lake version can be written in. */
export type FileFormat = 'parquet' | 'jsonl' | 'csv';

/** What a finished file is: counted and checksummed as its bytes went out. */
export interface WrittenFile {
  rows: number;
  bytes: number;
  /** SHA-256 of the file's bytes, hex. */
  sha256: string;
}

/**
 * A streaming writer of one file: rows go in batch by batch (the first batch fixes the columns), bytes go
 * out to the stream as they are ready, so memory stays flat however many rows pass. `write` waits while the
 * output is full (backpressure); `end` finishes the file, closes the stream and says what was written.
 */
export interface FormatWriter {
  readonly format: FileFormat;
  write(columns: readonly Column[], rows: readonly Row[]): Promise<void>;
  /** Rows held in memory, not yet encoded (a Parquet row group filling up; 0 for text formats). */
  readonly pendingRows: number;
  /** Encodes and writes out what is held now (closes the row group early); a no-op for text formats. */
  flush(): Promise<void>;
  end(): Promise<WrittenFile>;
}

/**
 * The output end shared by the formats: counts and hashes what it hands to the stream, and waits for
 * `drain` when the stream asks it to.
 */
export class CountingOutput {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly stream: Writable) {}

  async write(chunk: Uint8Array | string): Promise<void> {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (bytes.length === 0) return;
    this.hash.update(bytes);
    this.bytes += bytes.length;
    if (!this.stream.write(bytes)) await once(this.stream, 'drain');
  }

  async end(rows: number): Promise<WrittenFile> {
    const finished = once(this.stream, 'finish');
    this.stream.end();
    await finished;
    return { rows, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

/** The column names of a batch, checked against the file's first batch: a file has one set of columns. */
export function sameColumns(first: readonly Column[], next: readonly Column[]): void {
  if (first.length !== next.length || first.some((c, i) => c.name !== next[i]!.name))
    throw new Error(
      `a file takes one set of columns: got ${next.map((c) => c.name).join(', ')} after ${first.map((c) => c.name).join(', ')}`,
    );
}

/** How a text format writes its lines: an optional header from the columns, then one line per row. */
export interface LineFormat {
  header?(columns: readonly Column[]): string;
  line(columns: readonly Column[], row: Row): string;
}

/**
 * A text format written a line per row (CSV, JSON lines): the first batch fixes the columns and may write a
 * header, later batches must have the same columns, each batch goes out as one string.
 */
export function createLineWriter(format: FileFormat, stream: Writable, lines: LineFormat): FormatWriter {
  const out = new CountingOutput(stream);
  let columns: readonly Column[] | undefined;
  let rows = 0;
  return {
    format,
    async write(batchColumns: readonly Column[], batchRows: readonly Row[]) {
      if (!columns) {
        columns = batchColumns;
        if (lines.header) await out.write(lines.header(columns));
      } else sameColumns(columns, batchColumns);
      const cols = columns;
      let text = '';
      for (const row of batchRows) text += lines.line(cols, row);
      rows += batchRows.length;
      await out.write(text);
    },
    pendingRows: 0,
    async flush() {},
    async end(): Promise<WrittenFile> {
      return out.end(rows);
    },
  };
}
