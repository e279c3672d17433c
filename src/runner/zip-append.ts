import { createReadStream } from 'node:fs';
import { copyFile, open, type FileHandle } from 'node:fs/promises';

/**
 * Appending to a zip without re-compressing what it holds: the old zip's bytes up to its central directory
 * are copied as they are (in the kernel), new entries (already deflated) follow, then the old central
 * directory records, the new ones and the end records. Zip64 fields are written when a size, an offset or
 * the entry count needs them. Format: PKWARE APPNOTE.TXT 6.3.x, https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT
 */

/** An entry whose content is already raw-deflated in a file. */
export interface DeflatedEntry {
  name: string;
  /** File holding the raw deflate stream (no zlib header). */
  dataPath: string;
  crc32: number;
  size: number;
  compressedSize: number;
  mtime: Date;
}

const MAX32 = 0xffffffff;
const MAX16 = 0xffff;

interface Tail {
  /** Where the central directory starts: the end of the entries' data. */
  cdOffset: number;
  cdSize: number;
  count: number;
}

/** The central directory's place in an existing zip. */
async function readTail(handle: FileHandle): Promise<Tail> {
  const { size } = await handle.stat();
  const length = Math.min(size, 22 + MAX16);
  const buf = Buffer.alloc(length);
  await handle.read(buf, 0, length, size - length);
  for (let i = length - 22; i >= 0; i--) {
    if (buf.readUInt32LE(i) !== 0x06054b50) continue;
    let tail: Tail = {
      count: buf.readUInt16LE(i + 10),
      cdSize: buf.readUInt32LE(i + 12),
      cdOffset: buf.readUInt32LE(i + 16),
    };
    const locator = i - 20;
    if (locator >= 0 && buf.readUInt32LE(locator) === 0x07064b50) {
      const at = Number(buf.readBigUInt64LE(locator + 8));
      const record = Buffer.alloc(56);
      await handle.read(record, 0, 56, at);
      if (record.readUInt32LE(0) !== 0x06064b50) throw new Error('bad zip64 end of central directory');
      tail = {
        count: Number(record.readBigUInt64LE(32)),
        cdSize: Number(record.readBigUInt64LE(40)),
        cdOffset: Number(record.readBigUInt64LE(48)),
      };
    }
    if (tail.cdOffset + tail.cdSize > size) throw new Error('central directory beyond the end of the file');
    return tail;
  }
  throw new Error('not a zip file (no end of central directory record)');
}

/** MS-DOS date and time, local time, as zip stores them. */
function dosDateTime(d: Date): { date: number; time: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
  };
}

function localHeader(e: DeflatedEntry, name: Buffer): Buffer {
  const zip64 = e.size >= MAX32 || e.compressedSize >= MAX32;
  const extra = zip64 ? 20 : 0;
  const b = Buffer.alloc(30 + name.length + extra);
  const { date, time } = dosDateTime(e.mtime);
  b.writeUInt32LE(0x04034b50, 0);
  b.writeUInt16LE(zip64 ? 45 : 20, 4); // version needed
  b.writeUInt16LE(0x0800, 6); // UTF-8 names
  b.writeUInt16LE(8, 8); // deflate
  b.writeUInt16LE(time, 10);
  b.writeUInt16LE(date, 12);
  b.writeUInt32LE(e.crc32 >>> 0, 14);
  b.writeUInt32LE(zip64 ? MAX32 : e.compressedSize, 18);
  b.writeUInt32LE(zip64 ? MAX32 : e.size, 22);
  b.writeUInt16LE(name.length, 26);
  b.writeUInt16LE(extra, 28);
  name.copy(b, 30);
  if (zip64) {
    const x = 30 + name.length;
    b.writeUInt16LE(0x0001, x);
    b.writeUInt16LE(16, x + 2);
    b.writeBigUInt64LE(BigInt(e.size), x + 4);
    b.writeBigUInt64LE(BigInt(e.compressedSize), x + 12);
  }
  return b;
}

function centralRecord(e: DeflatedEntry, name: Buffer, offset: number): Buffer {
  const big = [e.size >= MAX32, e.compressedSize >= MAX32, offset >= MAX32];
  const values = [e.size, e.compressedSize, offset].filter((_, i) => big[i]);
  const extra = values.length > 0 ? 4 + 8 * values.length : 0;
  const b = Buffer.alloc(46 + name.length + extra);
  const { date, time } = dosDateTime(e.mtime);
  b.writeUInt32LE(0x02014b50, 0);
  b.writeUInt16LE((3 << 8) | 45, 4); // made by: unix, 4.5
  b.writeUInt16LE(extra ? 45 : 20, 6);
  b.writeUInt16LE(0x0800, 8);
  b.writeUInt16LE(8, 10);
  b.writeUInt16LE(time, 12);
  b.writeUInt16LE(date, 14);
  b.writeUInt32LE(e.crc32 >>> 0, 16);
  b.writeUInt32LE(big[1] ? MAX32 : e.compressedSize, 20);
  b.writeUInt32LE(big[0] ? MAX32 : e.size, 24);
  b.writeUInt16LE(name.length, 28);
  b.writeUInt16LE(extra, 30);
  // comment length, disk, internal attributes: 0
  b.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
  b.writeUInt32LE(big[2] ? MAX32 : offset, 42);
  name.copy(b, 46);
  if (extra) {
    let x = 46 + name.length;
    b.writeUInt16LE(0x0001, x);
    b.writeUInt16LE(extra - 4, x + 2);
    x += 4;
    for (const v of values) {
      b.writeBigUInt64LE(BigInt(v), x);
      x += 8;
    }
  }
  return b;
}

function endRecords(count: number, cdOffset: number, cdSize: number): Buffer {
  const zip64 = count >= MAX16 || cdOffset >= MAX32 || cdSize >= MAX32;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? MAX16 : count, 8);
  end.writeUInt16LE(zip64 ? MAX16 : count, 10);
  end.writeUInt32LE(zip64 ? MAX32 : cdSize, 12);
  end.writeUInt32LE(zip64 ? MAX32 : cdOffset, 16);
  if (!zip64) return end;
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE((3 << 8) | 45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(count), 24);
  record.writeBigUInt64LE(BigInt(count), 32);
  record.writeBigUInt64LE(BigInt(cdSize), 40);
  record.writeBigUInt64LE(BigInt(cdOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([record, locator, end]);
}

/**
 * Writes to `target` the zip at `from` (or none) with `entries` appended. `target` is written whole and
 * flushed to disk; the caller publishes it (rename).
 */
export async function writeAppendedZip(
  from: string | undefined,
  target: string,
  entries: readonly DeflatedEntry[],
): Promise<void> {
  let tail: Tail = { cdOffset: 0, cdSize: 0, count: 0 };
  let oldDirectory = Buffer.alloc(0);
  if (from) {
    const old = await open(from, 'r');
    try {
      tail = await readTail(old);
      oldDirectory = Buffer.alloc(tail.cdSize);
      await old.read(oldDirectory, 0, tail.cdSize, tail.cdOffset);
    } finally {
      await old.close();
    }
    await copyFile(from, target); // copy_file_range: the old entries never pass through node
  }
  const out = await open(target, from ? 'r+' : 'w');
  try {
    await out.truncate(tail.cdOffset);
    let position = tail.cdOffset;
    const records: Buffer[] = [oldDirectory];
    for (const entry of entries) {
      const name = Buffer.from(entry.name, 'utf8');
      const header = localHeader(entry, name);
      records.push(centralRecord(entry, name, position));
      await out.write(header, 0, header.length, position);
      position += header.length;
      for await (const chunk of createReadStream(entry.dataPath, { highWaterMark: 1 << 20 })) {
        const data = chunk as Buffer;
        await out.write(data, 0, data.length, position);
        position += data.length;
      }
    }
    const directory = Buffer.concat(records);
    const end = endRecords(tail.count + entries.length, position, directory.length);
    await out.write(Buffer.concat([directory, end]), 0, directory.length + end.length, position);
    await out.sync();
  } finally {
    await out.close();
  }
}
