import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
  try {
    await pipeline(response.body, counter, createWriteStream(partial));
    const declared = Number(response.headers['content-length']);
    if (!response.headers['content-encoding'] && Number.isFinite(declared) && declared !== bytes) {
      throw new Error(`the body ended after ${bytes} of ${declared} bytes`);
    }
    await rename(partial, target);
    return bytes;
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
