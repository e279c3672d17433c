import type { Readable } from 'node:stream';
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
      return new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (error, stream) => (error ? reject(error) : resolve(stream))),
      );
    },
    close: () => zip.close(),
  };
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
