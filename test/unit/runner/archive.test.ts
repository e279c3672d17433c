import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yauzl from 'yauzl';
import { describe, expect, it } from 'vitest';
import { addToZip, archiveName, readEntries } from '../../../src/runner/archive.js';

async function entryText(zipPath: string, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    yauzl.open(zipPath, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== name) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          let text = '';
          stream.on('data', (d: Buffer) => (text += d.toString()));
          stream.on('end', () => {
            zip.close();
            resolve(text);
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
});
