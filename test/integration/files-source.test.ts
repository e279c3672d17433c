import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import type { LogEntry } from '../../src/store/step-log.js';
import { runPipelineFile } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

const run = promisify(execFile);

let store: TestStore;
let db: Database;
let home: string;

beforeAll(async () => {
  store = await createTestStore({ prefix: 'sluice-files-source-' });
  ({ db, home } = store);
});

afterAll(async () => {
  await store?.close();
});

let cases = 0;
/** A fresh inbox and a pipeline reading it into its own table; `source` adds lines to the source section. */
async function inboxPipeline(source: string[] = []) {
  const n = ++cases;
  const inbox = path.join(home, `inbox${n}`);
  await mkdir(inbox);
  const file = path.join(home, `pipeline${n}.yaml`);
  await writeFile(
    file,
    [
      `name: folder_${n}`,
      'source:',
      `  url: ${inbox}`,
      "  glob: '*.csv'",
      ...source.map((line) => `  ${line}`),
      'parse: { type: csv }',
      `load: { type: postgres, table: rows_${n} }`,
      '',
    ].join('\n'),
  );
  const table = `rows_${n}`;
  return {
    inbox,
    table,
    /** Runs the pipeline (verbose), with `onLog` seeing every entry as it is logged. */
    async run(onLog: (entry: LogEntry) => void = () => undefined) {
      const entries: LogEntry[] = [];
      const summary = await runPipelineFile(db, file, {
        env: {},
        home,
        verbose: true,
        onLog: (entry) => {
          entries.push(entry);
          onLog(entry);
        },
      });
      return { summary, messages: entries.map((e) => `${e.level} ${e.message}`) };
    },
    async count() {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      return rows[0]!.n;
    },
    async ledger() {
      const { rows } = await db.query<{ name: string; status: string }>(
        'SELECT name, status FROM sluice.files WHERE pipeline = $1 ORDER BY name',
        [`folder_${n}`],
      );
      return rows;
    },
  };
}

const csv = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `${from + i},row ${from + i}\n`).join('');

describe('files source: what is in the folder', () => {
  it('loads a name that is not UTF-8, follows a link to a file, and says what it does not take', async () => {
    const p = await inboxPipeline(['onLoad: move', 'processedDir: done', 'stableFor: 0s']);
    const outside = path.join(home, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'real.csv'), `id,name\n${csv(10, 2)}`);
    // "café.csv" written in Latin-1: the é is the single byte E9, not valid UTF-8.
    const latin1Name = Buffer.concat([
      Buffer.from(`${p.inbox}/caf`),
      Buffer.from([0xe9]),
      Buffer.from('.csv'),
    ]);
    await writeFile(latin1Name, `id,name\n${csv(1, 3)}`);
    await symlink(path.join(outside, 'real.csv'), path.join(p.inbox, 'linked.csv'));
    await symlink(path.join(outside, 'missing.csv'), path.join(p.inbox, 'dangling.csv'));
    await mkdir(path.join(p.inbox, 'folder.csv'));
    await writeFile(path.join(p.inbox, 'notes.txt'), 'not a report');
    await run('mkfifo', [path.join(p.inbox, 'pipe.csv')]);

    const { summary, messages } = await p.run();
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 2, rowsLoaded: 5 });
    expect(await p.ledger()).toEqual([
      { name: 'caf%E9.csv', status: 'loaded' },
      { name: 'linked.csv', status: 'loaded' },
    ]);
    // What the user is told: each entry that matched and was not taken is a warning in the summary.
    expect(summary.warnings).toEqual([
      expect.stringMatching(
        /^dangling\.csv is a symbolic link to .*missing\.csv, which does not exist: not loaded$/,
      ),
      'pipe.csv is not a regular file (a pipe, socket or device): not loaded',
    ]);
    expect(messages).toContainEqual(
      expect.stringMatching(/^info caf%E9\.csv: the name is not valid UTF-8; it is shown with %XX/),
    );
    expect(messages).toContainEqual(
      expect.stringMatching(/^info linked\.csv is a symbolic link: the file it points to/),
    );
    expect(messages).toContainEqual(
      expect.stringMatching(
        /^debug .*not taken: 1 name the glob leaves out \(notes\.txt\); 1 folder \(folder\.csv\)$/,
      ),
    );
    expect(messages).toContain('info caf%E9.csv: moved to done/caf%E9.csv');
    // Moved with their own bytes; the link is moved, not the file it points to.
    const done = await readdir(path.join(p.inbox, 'done'), { encoding: 'buffer' });
    expect(done.map((name) => name.toString('latin1')).sort()).toEqual(['caf\u00e9.csv', 'linked.csv']);
    expect((await lstat(path.join(p.inbox, 'done', 'linked.csv'))).isSymbolicLink()).toBe(true);
    expect(await readFile(path.join(outside, 'real.csv'), 'utf8')).toContain('10,row 10');
  });
});

describe('files source: a file still being written is never loaded half', () => {
  it('leaves a file that grows during the check for the next run, then loads it whole', async () => {
    const p = await inboxPipeline(['onLoad: delete', 'stableFor: 1s']);
    const report = path.join(p.inbox, 'report.csv');
    await writeFile(report, `id,name\n${csv(1, 100)}`);

    // The sender is still uploading: the file grows while the source watches it.
    const first = await p.run((entry) => {
      if (entry.message.startsWith('waiting')) appendFileSync(report, csv(101, 400));
    });
    expect(first.summary).toMatchObject({ status: 'succeeded', filesLoaded: 0 });
    expect(first.messages).toContainEqual(
      expect.stringMatching(
        /^info report\.csv is still being written \(\d+ → \d+ bytes within 1s\): left for the next run$/,
      ),
    );
    expect(await p.ledger()).toEqual([]);
    expect(await readdir(p.inbox)).toEqual(['report.csv']);

    // Done uploading: the next run sees it unchanged across the interval and loads all of it.
    const second = await p.run();
    expect(second.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 500 });
    expect(await p.count()).toBe(500);
    expect(await readdir(p.inbox)).toEqual([]);
  });

  it('takes a file older than minAge at once, without waiting', async () => {
    const p = await inboxPipeline(['onLoad: delete', 'stableFor: 1m', 'minAge: 10m']);
    const old = path.join(p.inbox, 'old.csv');
    await writeFile(old, `id,name\n${csv(1, 2)}`);
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(old, anHourAgo, anHourAgo);
    const { summary, messages } = await p.run();
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 2 });
    expect(messages.filter((m) => m.includes('waiting'))).toEqual([]);
  });

  it('does not delete a file that changed after it was loaded: the next run reads it again', async () => {
    const p = await inboxPipeline(['onLoad: delete', 'stableFor: 0s']);
    const late = path.join(p.inbox, 'late.csv');
    await writeFile(late, `id,name\n${csv(1, 10)}`);
    const { summary } = await p.run((entry) => {
      if (entry.message.startsWith('loaded late.csv')) appendFileSync(late, csv(11, 1));
    });
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 10 });
    expect(summary.warnings).toEqual([
      expect.stringMatching(
        /^late\.csv changed in the folder after it was read \(\d+ → \d+ bytes\): not deleted; the next run reads it again$/,
      ),
    ]);
    expect((await readFile(late, 'utf8')).trim().split('\n')).toHaveLength(12);
  });
});
