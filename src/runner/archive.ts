import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { SluiceError } from '../core/errors.js';
import { removeWritten } from '../core/partial-file.js';
import { isProcessAlive } from '../store/process-alive.js';
import { writeAppendedZip, type DeflatedEntry } from './zip-append.js';

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

/** A file being deflated into a temporary file beside its zip, while it loads. */
export interface Compression {
  /** The deflated entry, once the whole file is read. */
  readonly done: Promise<Omit<DeflatedEntry, 'name'>>;
  /** Stops and removes the temporary file (the file was not archived after all). */
  cancel(): Promise<void>;
}

let partCount = 0;

/**
 * Deflates `file` (level 6, as `zip -6`) into `name.zip.<pid>.<n>.part` beside `zipPath`, computing its
 * CRC-32 on the way. zlib runs on libuv's thread pool, so this overlaps the load on the main thread; the
 * part is published into the zip only after the load commits (`addToZip`).
 */
export function startCompression(file: string, zipPath: string): Compression {
  const dataPath = `${zipPath}.${process.pid}.${++partCount}.part`;
  const controller = new AbortController();
  let out: WriteStream | undefined;
  const run = async (): Promise<Omit<DeflatedEntry, 'name'>> => {
    await mkdir(path.dirname(zipPath), { recursive: true });
    const { mtime } = await stat(file);
    let crc = 0;
    let size = 0;
    const input = createReadStream(file, { highWaterMark: 1 << 20 });
    input.on('data', (chunk) => {
      crc = zlib.crc32(chunk as Buffer, crc);
      size += chunk.length;
    });
    const deflate = zlib.createDeflateRaw({ level: 6, chunkSize: 1 << 18 });
    out = createWriteStream(dataPath);
    await pipeline(input, deflate, out, { signal: controller.signal });
    const { size: compressedSize } = await stat(dataPath);
    return { dataPath, crc32: crc, size, compressedSize, mtime };
  };
  const done = run().catch(async (error: unknown) => {
    if (out) await removeWritten(out, dataPath);
    else await rm(dataPath, { force: true });
    throw error;
  });
  done.catch(() => undefined); // awaited by addToZip or cancel; never an unhandled rejection
  return {
    done,
    async cancel() {
      controller.abort();
      await done.catch(() => undefined);
      await rm(dataPath, { force: true });
    },
  };
}

/** A file for the zip; `compression` when it was started while the file loaded. */
export interface ArchiveFile {
  /** Local path of the content. */
  path: string;
  /** Entry name in the zip. */
  name: string;
  compression?: Compression;
}

/**
 * Adds files to a zip, keeping every entry it already has: the new zip is written beside it and renamed
 * over it, so a crash leaves the old one whole. The old entries are copied byte for byte (never deflated
 * again) and the new ones were deflated while they loaded. A file whose name and content are already
 * there is not added again (a rerun after a crash); a different file under a taken name gets a numbered
 * name. Returns the entry name of each file.
 */
export async function addToZip(zipPath: string, files: readonly ArchiveFile[]): Promise<string[]> {
  const compressions = files.map((f) => f.compression ?? startCompression(f.path, zipPath));
  const temp = `${zipPath}.${process.pid}.tmp`;
  try {
    await mkdir(path.dirname(zipPath), { recursive: true });
    await removeDeadTemporaries(zipPath);
    const existing = await readEntries(zipPath);
    const taken = new Map(existing.map((e) => [e.name, e]));
    const names: string[] = [];
    const added: DeflatedEntry[] = [];
    for (const [i, file] of files.entries()) {
      const data = await compressions[i]!.done;
      let name = file.name;
      for (let n = 2; taken.has(name); n++) {
        const same = taken.get(name)!;
        if (same.size === data.size && same.crc32 === data.crc32) break;
        const ext = path.extname(file.name);
        name = `${file.name.slice(0, file.name.length - ext.length)} (${n})${ext}`;
      }
      names.push(name);
      if (taken.has(name)) continue;
      taken.set(name, { name, size: data.size, crc32: data.crc32 });
      added.push({ ...data, name });
    }
    if (added.length > 0) {
      await writeAppendedZip(existing.length > 0 ? zipPath : undefined, temp, added);
      await rename(temp, zipPath);
    }
    return names;
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new SluiceError('ARCHIVE_FAILED', `cannot add files to ${zipPath}: ${(error as Error).message}`, {
      cause: error,
      retryable: true,
    });
  } finally {
    await Promise.all(compressions.map((c) => c.cancel()));
  }
}

/**
 * Temporary zips (`name.zip.<pid>.tmp`) and deflated parts (`name.zip.<pid>.<n>.part`) of processes killed
 * while loading or archiving: never published, removed.
 */
export async function removeDeadTemporaries(zipPath: string): Promise<void> {
  const base = path.basename(zipPath);
  const names = await readdir(path.dirname(zipPath)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(`${base}.`) || !/\.(tmp|part)$/.test(name)) continue;
    const pid = Number(name.slice(base.length + 1).split('.')[0]);
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

export async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true, recursive: true }).catch(() => undefined);
}
