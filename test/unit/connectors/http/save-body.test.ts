import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HttpResponse } from '../../../../src/connectors/http/http-client.js';
import { saveBody } from '../../../../src/connectors/http/save-body.js';

function response(body: Readable, headers: Record<string, string> = {}): HttpResponse {
  return {
    status: 200,
    headers,
    url: new URL('http://example.test/f.csv'),
    body,
    discard: () => body.destroy(),
  };
}

/** A body that fails before its first byte: the failure can come before the .part file is even open. */
function failingAtOnce(): Readable {
  return new Readable({
    read() {
      this.destroy(new Error('connection reset'));
    },
  });
}

describe('saveBody', () => {
  it('writes the file whole under its name, through a .part', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'save-body-'));
    const bytes = await saveBody(
      response(Readable.from([Buffer.from('id\n1\n')]), { 'content-length': '5' }),
      path.join(dir, 'f.csv'),
    );
    expect(bytes).toBe(5);
    expect(await readdir(dir)).toEqual(['f.csv']);
    expect(await readFile(path.join(dir, 'f.csv'), 'utf8')).toBe('id\n1\n');
  });

  it('leaves nothing behind when the body fails, however early', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'save-body-'));
    // Many times: the removal used to race the stream's open and lose now and then.
    for (let i = 0; i < 50; i++) {
      await expect(saveBody(response(failingAtOnce()), path.join(dir, `f${i}.csv`))).rejects.toThrow(
        'connection reset',
      );
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a body shorter than its Content-Length and removes the part', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'save-body-'));
    await expect(
      saveBody(
        response(Readable.from([Buffer.from('id\n')]), { 'content-length': '10' }),
        path.join(dir, 'f.csv'),
      ),
    ).rejects.toThrow('the body ended after 3 of 10 bytes');
    expect(await readdir(dir)).toEqual([]);
  });
});
