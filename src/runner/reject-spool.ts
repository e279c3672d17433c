import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { removeWritten } from '../core/partial-file.js';
import type { Reject } from '../core/records.js';
import { copyTextValue, type SqlClient } from '../core/sql.js';

const COLUMNS = [
  'run_id',
  'pipeline',
  'file_id',
  'file',
  'line',
  'column_name',
  'rule',
  'value',
  'message',
  'raw',
];

const field = (value: string | number | null) =>
  // PostgreSQL text cannot hold NUL; a reject keeps the rest of what it saw.
  value === null ? '\\N' : copyTextValue(String(value).replaceAll('\u0000', ''));

/**
 * Collects a file's rejects as COPY lines in a temporary file while the rows load (the connection is busy
 * with the rows' COPY), then copies them into `sluice.rejects` in the same transaction. Memory stays flat
 * however many rows a file rejects.
 */
export class RejectSpool {
  private out: WriteStream | undefined;
  count = 0;

  constructor(
    private readonly file: string,
    private readonly context: { runId: string; pipeline: string; fileId: string | null },
  ) {}

  async add(rejects: readonly Reject[]): Promise<void> {
    if (rejects.length === 0) return;
    this.out ??= createWriteStream(this.file);
    let text = '';
    for (const r of rejects) {
      text += [
        this.context.runId,
        this.context.pipeline,
        this.context.fileId,
        r.origin,
        r.line,
        r.column,
        r.rule,
        r.value,
        r.message,
        r.raw,
      ]
        .map(field)
        .join('\t');
      text += '\n';
    }
    this.count += rejects.length;
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  /** Copies what was spooled into `sluice.rejects` through `tx`, and removes the spool file. */
  async flush(tx: SqlClient): Promise<void> {
    if (!this.out) return;
    const out = this.out;
    this.out = undefined;
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    const file = this.file;
    async function* chunks() {
      for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
        // COPY needs whole lines in each chunk.
        yield chunk as string;
      }
    }
    await tx.copyFrom({ schema: 'sluice', name: 'rejects' }, COLUMNS, wholeLines(chunks()));
    await rm(file, { force: true });
  }

  async discard(): Promise<void> {
    const out = this.out;
    this.out = undefined;
    if (out) await removeWritten(out, this.file);
    else await rm(this.file, { force: true });
  }
}

/** Re-cuts text chunks so that each ends at a newline. */
async function* wholeLines(chunks: AsyncIterable<string>): AsyncIterable<string> {
  let carry = '';
  for await (const chunk of chunks) {
    const text = carry + chunk;
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      carry = text;
      continue;
    }
    carry = text.slice(cut + 1);
    yield text.slice(0, cut + 1);
  }
  if (carry) yield carry;
}
