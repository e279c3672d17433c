import { formatDuration } from '../../core/duration.js';
import { durationOrZeroSchema } from '../../core/duration-schema.js';
import type { Logger, SourceFile } from '../../core/plugin.js';
import { sleep } from '../../core/sleep.js';

/** How a folder source tells a file that is complete from one still being written; shared by every one. */
export const stabilityOptions = {
  stableFor: durationOrZeroSchema
    .prefault('2s')
    .describe(
      'Take a recent file only once its size and modification time stayed the same this long: a file still ' +
        'being written is left for the next run. "0s" takes every file as listed.',
    ),
  minAge: durationOrZeroSchema
    .prefault('10m')
    .describe(
      'A file last modified longer ago than this is taken without waiting for stableFor ("0s": every file ' +
        'waits). Keep it well above any clock difference with the server.',
    ),
};

/** A file's size and modification time: what tells whether it changed. */
export interface Observed {
  size: number;
  /** Modification time in milliseconds (whole seconds over SFTP). */
  modifiedMs: number;
}

export function sameObservation(a: Observed, b: Observed): boolean {
  return a.size === b.size && a.modifiedMs === b.modifiedMs;
}

/** A file that matched, with what the listing saw of it. */
export interface Candidate<T> {
  name: string;
  observed: Observed;
  handle: T;
}

/**
 * The files a listing offers, each remembered in `seen` as it was observed: a source deletes or moves a
 * file only if it is still the file that was read.
 */
export function* listedFiles(
  taken: readonly Candidate<string>[],
  seen: Map<string, Observed>,
): Generator<SourceFile> {
  for (const c of taken) {
    seen.set(c.handle, c.observed);
    yield { id: c.handle, name: c.name, size: c.observed.size, modifiedAt: new Date(c.observed.modifiedMs) };
  }
}

/**
 * The candidates that are complete: last modified more than `minAge` ago, or unchanged (size and time) across
 * `stableFor`, waited once for all of them. A file still changing, or gone, is left with an info line; it is
 * listed again by the next run. Order is kept.
 */
export async function takeStable<T>(
  candidates: Candidate<T>[],
  a: {
    stableForMs: number;
    minAgeMs: number;
    restat: (candidate: Candidate<T>) => Promise<Observed | undefined>;
    logger: Logger;
    signal: AbortSignal;
    now?: number;
  },
): Promise<Candidate<T>[]> {
  if (a.stableForMs === 0) return candidates;
  const now = a.now ?? Date.now();
  const recent = candidates.filter((c) => a.minAgeMs === 0 || now - c.observed.modifiedMs < a.minAgeMs);
  if (recent.length === 0) return candidates;
  a.logger.info(
    `waiting ${formatDuration(a.stableForMs)} to see that ${recent.length} recent file${recent.length === 1 ? ' is' : 's are'} complete (stableFor): ${recent
      .slice(0, 5)
      .map((c) => c.name)
      .join(', ')}${recent.length > 5 ? ', …' : ''}`,
  );
  await sleep(a.stableForMs, a.signal);
  const left = new Set<Candidate<T>>();
  for (const candidate of recent) {
    const current = await a.restat(candidate);
    if (!current) {
      a.logger.info(`${candidate.name} is gone since the listing`);
      left.add(candidate);
    } else if (!sameObservation(current, candidate.observed)) {
      const change =
        current.size === candidate.observed.size
          ? 'modified again'
          : `${candidate.observed.size} → ${current.size} bytes`;
      a.logger.info(
        `${candidate.name} is still being written (${change} within ${formatDuration(a.stableForMs)}): left for the next run`,
      );
      left.add(candidate);
    }
  }
  return candidates.filter((c) => !left.has(c));
}

/** Why an entry of the folder is not taken when nothing is wrong with that: said once, on one debug line. */
export type LeftOutReason = 'glob' | 'folder';

/** Collects the entries left out on purpose and logs them together (a folder may hold thousands). */
export class LeftOut {
  private readonly names = new Map<LeftOutReason, string[]>();

  add(reason: LeftOutReason, name: string): void {
    const list = this.names.get(reason) ?? [];
    list.push(name);
    this.names.set(reason, list);
  }

  log(logger: Logger, where: string): void {
    const parts: string[] = [];
    for (const reason of ['glob', 'folder'] as const) {
      const names = this.names.get(reason);
      if (!names) continue;
      const what =
        reason === 'glob'
          ? `${names.length} name${names.length === 1 ? '' : 's'} the glob leaves out`
          : `${names.length} folder${names.length === 1 ? '' : 's'}`;
      parts.push(`${what} (${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''})`);
    }
    if (parts.length > 0) logger.debug(`${where}: not taken: ${parts.join('; ')}`);
  }
}

/**
 * A file name read as bytes: the text when it is valid UTF-8, else the valid parts with each undecodable
 * byte (and `%`) written `%XX`, so that it can be shown, logged and put in a ledger or a zip.
 */
export function decodeFileName(raw: Buffer): { name: string; valid: boolean } {
  const text = raw.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(raw)) return { name: text, valid: true };
  const strict = new TextDecoder('utf-8', { fatal: true });
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const length = sequenceLength(raw[i]!);
    let char: string | undefined;
    if (length > 0 && i + length <= raw.length) {
      try {
        char = strict.decode(raw.subarray(i, i + length));
      } catch {
        char = undefined;
      }
    }
    if (char === undefined || char === '%') {
      out += `%${raw[i]!.toString(16).toUpperCase().padStart(2, '0')}`;
      i += 1;
    } else {
      out += char;
      i += length;
    }
  }
  return { name: out, valid: false };
}

/** Bytes of the UTF-8 sequence a lead byte starts; 0 for a byte that cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}
