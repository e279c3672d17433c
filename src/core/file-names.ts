import path from 'node:path';

/** `name`, or `name` with a timestamp and counter before the extension when it is taken. */
export function uniqueName(name: string, taken: Set<string>, now = new Date()): string {
  if (!taken.has(name)) return name;
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  for (let n = 1; ; n++) {
    const candidate = `${stem}_${stamp}${n > 1 ? `_${n}` : ''}${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
}
