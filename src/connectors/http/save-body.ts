import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { removeWritten } from '../../core/partial-file.js';
import type { HttpResponse } from './http-client.js';

/**
 * Streams a response body into `target` through `target.part`, renamed only once the body arrived whole (as
 * long as Content-Length says, when the server gave one): nobody ever sees half a file under its real name.
 * Returns the byte count.
 */
export async function saveBody(response: HttpResponse, target: string): Promise<number> {
  const partial = `${target}.part`;
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const out = createWriteStream(partial);
  try {
    await pipeline(response.body, counter, out);
    const declared = Number(response.headers['content-length']);
    if (!response.headers['content-encoding'] && Number.isFinite(declared) && declared !== bytes) {
      throw new Error(`the body ended after ${bytes} of ${declared} bytes`);
    }
    await rename(partial, target);
    return bytes;
  } catch (error) {
    await removeWritten(out, partial);
    throw error;
  }
}
