import type { Readable } from 'node:stream';

/** The start of a body (an error page), at most `max` characters on one line; the rest is dropped. */
export async function readSnippet(body: Readable, max: number): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length >= max) break;
    }
  } catch {
    // An error page that breaks off still says what it said so far.
  } finally {
    body.destroy();
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, max);
}
