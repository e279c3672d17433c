import { pipeline, Transform, type Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';

/**
 * The parts of a zip file (an .xlsx), each readable as a stream, any number of times and in any order.
 * yauzl reads the central directory at the end of the file, so a file cut short fails here, at once.
 */
export interface ZipParts {
  /** True when the zip holds this part (names compare case-insensitively, as Excel does). */
  has(name: string): boolean;
  open(name: string): Promise<Readable>;
  close(): void;
}

export async function openZipParts(file: string): Promise<ZipParts> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false }, (error, opened) =>
      error ? reject(error) : resolve(opened),
    ),
  );
  const entries = new Map<string, yauzl.Entry>();
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        entries.set(partKey(entry.fileName), entry);
        zip.readEntry();
      });
      zip.once('end', () => resolve());
      zip.once('error', reject);
      zip.readEntry();
    });
  } catch (error) {
    zip.close();
    throw error;
  }
  // Later errors come through the callbacks and streams of each read; this one only keeps a stray 'error'
  // event from being unhandled.
  zip.on('error', () => {});
  return {
    has: (name) => entries.has(partKey(name)),
    async open(name) {
      const entry = entries.get(partKey(name));
      if (entry === undefined) throw new Error(`the zip has no part ${name}`);
      const stream = await new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (error, opened) => (error ? reject(error) : resolve(opened))),
      );
      return checked(stream, entry);
    },
    close: () => zip.close(),
  };
}

/**
 * The part's bytes, failing at the end when their CRC-32 is not the one the zip recorded: yauzl checks sizes
 * only, and a damaged byte inside a part would otherwise read as a different value.
 */
function checked(stream: Readable, entry: yauzl.Entry): Readable {
  let crc = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done) {
      done(
        crc >>> 0 === entry.crc32 >>> 0
          ? null
          : new Error(`its part ${entry.fileName} is damaged (CRC-32 mismatch)`),
      );
    },
  });
  // pipeline() passes an error of either side to the other, and destroys the zip's stream when the reader
  // stops early.
  return pipeline(stream, check, () => {});
}

function partKey(name: string): string {
  return name.replace(/^\/+/, '').toLowerCase();
}

/** A relationship target resolved against the folder of the part that names it (`xl/` for the workbook). */
export function resolvePart(fromPart: string, target: string): string {
  if (target.startsWith('/')) return target.slice(1);
  const parts = fromPart.split('/').slice(0, -1);
  for (const segment of target.split('/')) {
    if (segment === '..') parts.pop();
    else if (segment !== '.' && segment !== '') parts.push(segment);
  }
  return parts.join('/');
}
