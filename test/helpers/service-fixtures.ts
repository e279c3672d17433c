import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A pipeline file loading the CSVs of its own inbox into its own table. `bad` rows have a non-integer id
 * (rejected by the check); `setup` runs before the load (a gate the test holds, to catch a run mid-way).
 */
export async function servicePipeline(
  dir: string,
  name: string,
  options: {
    group?: string[];
    rows?: number;
    bad?: number;
    setup?: string;
    afterLoad?: string;
    claimTimeout?: string;
    files?: number;
  } = {},
): Promise<string> {
  const inbox = path.join(dir, `${name}-inbox`);
  await mkdir(inbox, { recursive: true });
  for (let f = 0; f < (options.files ?? 1); f++) {
    const lines = ['id,label'];
    for (let i = 0; i < (options.rows ?? 3); i++) lines.push(`${f * 1_000_000 + i},row ${i} of ${name}`);
    for (let i = 0; i < (options.bad ?? 0); i++) lines.push(`x${i},bad row ${i}`);
    await writeFile(path.join(inbox, `part-${f}.csv`), lines.join('\n') + '\n');
  }
  const file = path.join(dir, `${name}.yaml`);
  const table = name.replaceAll(/[-.]/g, '_');
  await writeFile(
    file,
    [
      `name: ${name}`,
      options.group ? `group: [${options.group.join(', ')}]` : '',
      options.claimTimeout ? `run: { claimTimeout: ${options.claimTimeout} }` : '',
      'source:',
      `  url: ${inbox}`,
      '  glob: "*.csv"',
      '  stableFor: 0s',
      'parse:',
      '  type: csv',
      'check:',
      '  columns:',
      '    id: { integer: true }',
      'load:',
      '  type: postgres',
      `  table: ${table}`,
      options.setup ? `  setup: "${options.setup}"` : '',
      options.afterLoad ? `  afterLoad: "${options.afterLoad}"` : '',
    ].join('\n') + '\n',
  );
  return file;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined), failing with `what` after `limitMs`. */
export async function eventually<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined>,
  limitMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(100);
  }
}
