import type { WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';

/**
 * Removes the file `out` was writing, once `out` has closed. A pipeline that fails early (a body cut before
 * its first byte, an abort) returns before the stream's open may have finished: removed any sooner, the file
 * would be created after its removal and stay behind.
 */
export async function removeWritten(out: WriteStream, file: string): Promise<void> {
  if (!out.closed) {
    const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
    out.destroy();
    await closed;
  }
  await rm(file, { force: true });
}
