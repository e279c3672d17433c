/** How long a file name may be, in UTF-8 bytes: well under the 255 bytes most file systems allow. */
export const MAX_FILE_NAME_BYTES = 120;

/** An extension longer than this is not kept whole when a name is cut (`.xlsx`, `.csv.gz` fit). */
const MAX_EXTENSION_BYTES = 16;

const FALLBACK = 'attachment';

/**
 * A name that is safe as one file name on any system, made from a name someone else chose (a mail
 * attachment): no path separators, no `..`, no control or invisible formatting characters, none of the
 * characters Windows refuses, no leading or trailing dots or spaces, at most `maxBytes` UTF-8 bytes with the
 * extension kept, and `attachment` when nothing is left. Letters of any script (ñ, é, 日本) are kept.
 */
export function safeFileName(name: string, maxBytes = MAX_FILE_NAME_BYTES): string {
  let safe = name
    .normalize('NFC')
    // Control characters, and format characters such as the right-to-left override that can disguise
    // `exe.xlsx` as `xslx.exe`.
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, '')
    // Path separators and the characters Windows does not allow in names.
    .replace(/[/\\<>:"|?*]/g, '_')
    .replace(/\s+/gu, ' ')
    // `..` anywhere (not only as a whole segment): no name can climb out of a folder, even once joined.
    .replace(/\.{2,}/g, '.')
    .replace(/_{2,}/g, '_')
    .replace(/^[\s._]+|[\s.]+$/gu, '');
  // Names Windows reserves for devices, whatever the extension.
  if (/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i.test(safe)) safe = `_${safe}`;
  if (!safe) return FALLBACK;
  return truncateKeepingExtension(safe, maxBytes);
}

/**
 * `name`, or `name` with `_2`, `_3`… before the extension when it is in `taken`; the result is added to
 * `taken` and stays within `maxBytes`.
 */
export function uniqueFileName(name: string, taken: Set<string>, maxBytes = MAX_FILE_NAME_BYTES): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) {
    const { stem, ext } = splitExtension(name);
    const suffix = `_${n}`;
    candidate = `${cutToBytes(stem, maxBytes - byteLength(suffix) - byteLength(ext))}${suffix}${ext}`;
  }
  taken.add(candidate);
  return candidate;
}

function truncateKeepingExtension(name: string, maxBytes: number): string {
  if (byteLength(name) <= maxBytes) return name;
  const { stem, ext } = splitExtension(name);
  const keep = ext && byteLength(ext) <= Math.min(MAX_EXTENSION_BYTES, maxBytes - 1) ? ext : '';
  const cut = cutToBytes(keep ? stem : name, maxBytes - byteLength(keep)).replace(/[\s.]+$/u, '');
  return `${cut || FALLBACK.slice(0, maxBytes - byteLength(keep))}${keep}`;
}

function splitExtension(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext: name.slice(dot) };
}

/** The longest prefix of `text` within `maxBytes` UTF-8 bytes, never splitting a character. */
function cutToBytes(text: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const char of text) {
    const size = byteLength(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    out += char;
  }
  return out;
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
