import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { removeWritten } from '../../../core/partial-file.js';

/** `yyyyMMdd_HHmmss` in local time. */
export function timestamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}_${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

function field(value: string | null): string {
  if (value === null) return '';
  return /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** An RFC 4180 CSV written under a `.part` name and renamed when complete. */
export class ScanCsv {
  private readonly partial: string;
  private out: WriteStream | undefined;

  constructor(readonly file: string) {
    this.partial = path.join(path.dirname(file), `.${path.basename(file)}.part`);
  }

  async open(header: string[]): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    this.out = createWriteStream(this.partial);
    await this.write([header]);
  }

  async write(rows: (string | null)[][]): Promise<void> {
    const text = rows.map((r) => `${r.map(field).join(',')}\r\n`).join('');
    if (!this.out!.write(text)) await once(this.out!, 'drain');
  }

  async finish(): Promise<void> {
    this.out!.end();
    await once(this.out!, 'finish');
    await rename(this.partial, this.file);
  }

  async discard(): Promise<void> {
    if (this.out) await removeWritten(this.out, this.partial);
    else await rm(this.partial, { force: true });
  }
}
