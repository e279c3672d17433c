import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { SluiceError } from '../core/errors.js';
import { isProcessAlive } from '../store/process-alive.js';

export interface ArchiveFile {
  /** Local path of the content. */
  path: string;
  /** Entry name in the zip. */
  name: string;
}

/** `visitas_{yyyyMMdd}.zip` → `visitas_20241231.zip` for as-of 2024-12-31. */
export function archiveName(pattern: string, asOf: string, pipeline: string): string {
  const [yyyy, MM, dd] = asOf.split('-') as [string, string, string];
  return pattern
    .replaceAll('{yyyyMMdd}', `${yyyy}${MM}${dd}`)
    .replaceAll('{yyyy-MM-dd}', asOf)
    .replaceAll('{yyyy}', yyyy)
    .replaceAll('{MM}', MM)
    .replaceAll('{dd}', dd)
    .replaceAll('{pipeline}', pipeline);
}

interface Existing {
  name: string;
  size: number;
  crc32: number;
}

/**
 * Adds files to a zip, keeping every entry it already has: the new zip is written beside it and renamed
 * over it, so a crash leaves the old one whole. A file whose name and content are already there is not
 * added again (a rerun after a crash); a different file under a taken name gets a numbered name.
 * Returns the entry name of each file.
 */
export async function addToZip(zipPath: string, files: readonly ArchiveFile[]): Promise<string[]> {
  try {
    await mkdir(path.dirname(zipPath), { recursive: true });
    await removeDeadTemporaries(zipPath);
    const existing = await readEntries(zipPath);
    const taken = new Map(existing.map((e) => [e.name, e]));
    const zip = new yazl.ZipFile();
    const temp = `${zipPath}.${process.pid}.tmp`;
    const written = pipeline(zip.outputStream, createWriteStream(temp));
    const oldZip = existing.length > 0 ? await openZip(zipPath) : undefined;
    const names: string[] = [];
    try {
      if (oldZip) await copyEntries(oldZip, zip);
      for (const file of files) {
        const info = await stat(file.path);
        const crc = await fileCrc32(file.path);
        let name = file.name;
        for (let n = 2; taken.has(name); n++) {
          const same = taken.get(name)!;
          if (same.size === info.size && same.crc32 === crc) break;
          const ext = path.extname(file.name);
          name = `${file.name.slice(0, file.name.length - ext.length)} (${n})${ext}`;
        }
        names.push(name);
        if (taken.has(name)) continue;
        taken.set(name, { name, size: info.size, crc32: crc });
        zip.addFile(file.path, name, { mtime: info.mtime });
      }
      zip.end();
      await written;
    } finally {
      oldZip?.close();
    }
    const handle = await open(temp, 'r');
    await handle.sync();
    await handle.close();
    await rename(temp, zipPath);
    return names;
  } catch (error) {
    throw new SluiceError('ARCHIVE_FAILED', `cannot add files to ${zipPath}: ${(error as Error).message}`, {
      cause: error,
      retryable: true,
    });
  }
}

/** Temporary zips (`name.zip.<pid>.tmp`) of processes killed while archiving: never published, removed. */
async function removeDeadTemporaries(zipPath: string): Promise<void> {
  const base = path.basename(zipPath);
  const names = await readdir(path.dirname(zipPath)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(`${base}.`) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(base.length + 1, -'.tmp'.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isProcessAlive(pid))
      await rm(path.join(path.dirname(zipPath), name), { force: true });
  }
}

/** The entries of a zip, or none when it does not exist. */
export async function readEntries(zipPath: string): Promise<Existing[]> {
  const exists = await stat(zipPath).then(
    () => true,
    () => false,
  );
  if (!exists) return [];
  const zip = await openZip(zipPath);
  try {
    const entries: Existing[] = [];
    await eachEntry(zip, async (e) => {
      entries.push({ name: e.fileName, size: e.uncompressedSize, crc32: e.crc32 });
    });
    return entries;
  } finally {
    zip.close();
  }
}

async function copyEntries(from: yauzl.ZipFile, to: yazl.ZipFile) {
  const entries: yauzl.Entry[] = [];
  await eachEntry(from, async (entry) => {
    if (!entry.fileName.endsWith('/')) entries.push(entry);
  });
  // Each old entry streams out of the old zip only when yazl reaches it: memory stays flat.
  for (const entry of entries) {
    to.addReadStreamLazy(
      entry.fileName,
      { mtime: entry.getLastModDate(), size: entry.uncompressedSize },
      (cb) => from.openReadStream(entry, (err, stream) => cb(err ?? null, stream)),
    );
  }
}

function openZip(zipPath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    ),
  );
}

function eachEntry(zip: yauzl.ZipFile, visit: (entry: yauzl.Entry) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      visit(entry).then(() => zip.readEntry(), reject);
    });
    zip.once('end', () => resolve());
    zip.once('error', reject);
    zip.readEntry();
  });
}

async function fileCrc32(file: string): Promise<number> {
  let crc = 0;
  for await (const chunk of createReadStream(file)) crc = zlib.crc32(chunk as Buffer, crc);
  return crc;
}

export async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true, recursive: true }).catch(() => undefined);
}
