import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { describe, expect, it } from 'vitest';
import { addToZip, archiveName, readEntries, startCompression } from '../../../src/runner/archive.js';

async function entryText(zipPath: string, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    yauzl.open(zipPath, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== name) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (d: Buffer) => chunks.push(d));
          stream.on('end', () => {
            zip.close();
            resolve(Buffer.concat(chunks).toString());
          });
        });
      });
      zip.on('end', () => reject(new Error(`no entry ${name}`)));
      zip.readEntry();
    });
  });
}

describe('archive', () => {
  it('fills date tokens from the as-of date', () => {
    expect(archiveName('visitas_{yyyyMMdd}.zip', '2026-03-07', 'visits')).toBe('visitas_20260307.zip');
    expect(archiveName('{pipeline}/{yyyy}/{MM}/{dd}.zip', '2026-03-07', 'v')).toBe('v/2026/03/07.zip');
  });

  it('adds to an existing zip without losing entries, skips what is already there, renames clashes', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-zip-'));
    const zip = path.join(dir, 'backup', 'a.zip');
    await writeFile(path.join(dir, 'r1.txt'), 'one');
    await writeFile(path.join(dir, 'r2.txt'), 'two');
    expect(await addToZip(zip, [{ path: path.join(dir, 'r1.txt'), name: 'r1.txt' }])).toEqual(['r1.txt']);
    expect(
      await addToZip(zip, [
        { path: path.join(dir, 'r1.txt'), name: 'r1.txt' }, // the same again: a rerun after a crash
        { path: path.join(dir, 'r2.txt'), name: 'r2.txt' },
      ]),
    ).toEqual(['r1.txt', 'r2.txt']);
    await writeFile(path.join(dir, 'other.txt'), 'different content');
    expect(await addToZip(zip, [{ path: path.join(dir, 'other.txt'), name: 'r1.txt' }])).toEqual([
      'r1 (2).txt',
    ]);
    expect((await readEntries(zip)).map((e) => e.name)).toEqual(['r1.txt', 'r2.txt', 'r1 (2).txt']);
    expect(await entryText(zip, 'r1.txt')).toBe('one');
    expect(await entryText(zip, 'r1 (2).txt')).toBe('different content');
    expect(await readFile(zip)).toBeTruthy();
  });

  it('appends without touching the bytes of the entries already there, to zips made by other tools too', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-zip-'));
    const zip = path.join(dir, 'day.zip');
    // A zip written by yazl (data descriptors, as earlier versions of Sluice wrote them).
    const made = new yazl.ZipFile();
    made.addBuffer(Buffer.from('old entry '.repeat(1000)), 'old.txt');
    made.end();
    await pipeline(made.outputStream, createWriteStream(zip));
    const before = await readFile(zip);
    const entriesEnd = before.readUInt32LE(before.length - 6); // the central directory's offset
    const text = Array.from({ length: 20000 }, (_, i) => `line ${i},é,${i * 7}`).join('\n');
    await writeFile(path.join(dir, 'new.txt'), text);
    const compression = startCompression(path.join(dir, 'new.txt'), zip);
    expect(await addToZip(zip, [{ path: path.join(dir, 'new.txt'), name: 'new.txt', compression }])).toEqual([
      'new.txt',
    ]);
    const after = await readFile(zip);
    expect(after.subarray(0, entriesEnd).equals(before.subarray(0, entriesEnd))).toBe(true);
    expect(await entryText(zip, 'old.txt')).toBe('old entry '.repeat(1000));
    expect(await entryText(zip, 'new.txt')).toBe(text);
    expect((await readEntries(zip)).map((e) => [e.name, e.size])).toEqual([
      ['old.txt', 10000],
      ['new.txt', Buffer.byteLength(text)],
    ]);
    // No deflated part is left beside the zip, also for a deflation cancelled (a file not archived).
    const dropped = startCompression(path.join(dir, 'new.txt'), zip);
    await dropped.cancel();
    expect((await readdir(dir)).sort()).toEqual(['day.zip', 'new.txt']);
  });
});
