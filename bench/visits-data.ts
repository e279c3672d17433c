/**
 * Report files in the visits layout for the benchmark, generated at run time and streamed to disk.
 *
 * One pass writes two files from the same rows:
 *   - the Sluice input: about 1 row in 1000 is invalid (every 1000th row, alternately a malformed e-mail and
 *     a 31/02 send date), so the rejects path runs;
 *   - the reference input for psql \copy: the same bytes except that those rows are repaired (the e-mail
 *     gets its "@" back, 31/02 becomes 28/02), because \copy stops at the first bad row.
 * Everything else (quoting, nulls, sizes) is identical, so both sides parse the same text.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { VISITS_COLUMNS } from '../test/helpers/visits-fixtures.js';

export interface GenerateOptions {
  rows: number;
  /** Distinct e-mail addresses to draw from (duplicates inside one file exercise merge's DISTINCT ON). */
  distinctEmails: number;
  /** Every `invalidEvery`th row is invalid in the Sluice file (repaired in the reference file). */
  invalidEvery: number;
  seed: number;
}

export interface GeneratedFiles {
  rows: number;
  invalidRows: number;
  bytes: number;
  referenceBytes: number;
  quotedLinks: number;
  seconds: number;
}

export const DEFAULT_GENERATE: GenerateOptions = {
  rows: 1_000_000,
  distinctEmails: 300_000,
  invalidEvery: 1000,
  seed: 20261127,
};

/** The second header cell changes between real files; `expectHeader` accepts any name there. */
export const SECOND_HEADER = 'Newsletter noviembre';

const FIRST = ['maria', 'jose', 'ana', 'juan', 'laura', 'carlos', 'lucia', 'pablo', 'elena', 'javier'];
const LAST = ['garcia', 'lopez', 'martin', 'sanchez', 'perez', 'gomez', 'ruiz', 'diaz', 'moreno', 'alvarez'];
const DOMAINS = ['gmail.com', 'hotmail.es', 'yahoo.es', 'outlook.com', 'telefonica.net', 'empresa-demo.es'];
const BROWSERS = ['Chrome 119', 'Firefox 120', 'Safari 17', 'Edge 119', 'Samsung Internet'];
const PLATFORMS = ['Windows 10', 'Android', 'iOS', 'Mac OS X', 'Linux'];
const PATHS = ['ofertas', 'novedades', 'black-friday', 'outlet', 'cuenta', 'blog'];
const TWO = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

/** mulberry32: small, fast and deterministic, so that every run loads the same bytes. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function emailOf(id: number): string {
  return `${FIRST[id % 10]}.${LAST[((id / 10) | 0) % 10]}${id}@${DOMAINS[id % 6]}`;
}

function date(day: number, month: number, hour: number, minute: number): string {
  return `${TWO[day]}/${TWO[month]}/2024 ${TWO[hour]}:${TWO[minute]}`;
}

async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

async function close(out: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

/** Writes `sluicePath` (with invalid rows) and `referencePath` (repaired) in one streaming pass. */
export async function generateVisits(
  sluicePath: string,
  referencePath: string,
  options: GenerateOptions = DEFAULT_GENERATE,
): Promise<GeneratedFiles> {
  const started = performance.now();
  const next = random(options.seed);
  const a = createWriteStream(sluicePath);
  const b = createWriteStream(referencePath);
  const header = VISITS_COLUMNS.map((c, i) => (i === 1 ? SECOND_HEADER : c)).join(',') + '\n';
  let chunkA = header;
  let chunkB = header;
  let bytes = 0;
  let referenceBytes = 0;
  let invalidRows = 0;
  let quotedLinks = 0;

  for (let i = 1; i <= options.rows; i++) {
    const id = next() % options.distinctEmails;
    const email = emailOf(id);
    const month = (next() % 12) + 1;
    const day = (next() % 28) + 1;
    const hour = next() % 24;
    const minute = next() % 60;
    const sent = date(day, month, hour, minute);
    const r = next();
    const opened = r % 10 < 6 ? date(day, month, hour, (minute + 7) % 60) : '-';
    const clicked = opened !== '-' && r % 10 < 3 ? date(day, month, hour, (minute + 9) % 60) : '-';
    const opens = opened === '-' ? 0 : (r >>> 4) % 5;
    const clicks = clicked === '-' ? 0 : (r >>> 8) % 3;
    const page = `https://www.tienda-demo.es/${PATHS[(r >>> 12) % 6]}/p-${(r >>> 3) % 5000}`;
    let links = clicked === '-' ? '-' : page;
    // 1 in 20 rows: a quoted Links cell holding two URLs separated by a comma.
    if (i % 20 === 7) {
      links = `"${page},https://www.tienda-demo.es/carrito?ref=${id}"`;
      quotedLinks++;
    }
    const ip = `${(r >>> 16) % 223}.${(r >>> 5) % 256}.${(r >>> 9) % 256}.${(r >>> 20) % 254}`;
    // 1 in 500 rows: a quoted browser with doubled quotes inside, as some exports write user agents.
    const browser = i % 500 === 3 ? '"Mozilla/5.0 (""compatible"")"' : BROWSERS[(r >>> 2) % 5]!;
    const badmail = r % 97 === 0 ? 'hard' : '-';
    const baja = r % 89 === 0 ? 'SI' : '-';
    const tail = `,newsletter-nov-C${100000 + (i % 900000)},${badmail},${baja},`;
    const rest = `,${opened},${opens},${opens > 3 ? 1 : 0},${clicked},${clicks},0,${links},${ip},${browser},${PLATFORMS[(r >>> 6) % 5]}\n`;

    if (i % options.invalidEvery === options.invalidEvery / 2) {
      invalidRows++;
      // Alternately a malformed e-mail and a date that does not exist; the reference gets the repaired row.
      const badEmail = (i / options.invalidEvery) % 2 < 1;
      const lineA = badEmail
        ? `${email.replace('@', '.at.')}${tail}${sent}${rest}`
        : `${email}${tail}${date(31, 2, hour, minute)}${rest}`;
      const lineB = badEmail
        ? `${email}${tail}${sent}${rest}`
        : `${email}${tail}${date(28, 2, hour, minute)}${rest}`;
      chunkA += lineA;
      chunkB += lineB;
    } else {
      const line = `${email}${tail}${sent}${rest}`;
      chunkA += line;
      chunkB += line;
    }
    if (chunkA.length >= 1 << 20) {
      bytes += Buffer.byteLength(chunkA);
      referenceBytes += Buffer.byteLength(chunkB);
      await Promise.all([write(a, chunkA), write(b, chunkB)]);
      chunkA = '';
      chunkB = '';
    }
  }
  bytes += Buffer.byteLength(chunkA);
  referenceBytes += Buffer.byteLength(chunkB);
  await Promise.all([write(a, chunkA), write(b, chunkB)]);
  await Promise.all([close(a), close(b)]);
  return {
    rows: options.rows,
    invalidRows,
    bytes,
    referenceBytes,
    quotedLinks,
    seconds: (performance.now() - started) / 1000,
  };
}
