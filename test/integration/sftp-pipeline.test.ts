import { appendFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import type { LogEntry } from '../../src/store/step-log.js';
import { runPipelineFile } from '../helpers/pipeline-harness.js';
import { startSftpServer, type SftpServer } from '../helpers/sshd.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

let server: SftpServer;
let store: TestStore;
let db: Database;
let home: string;

beforeAll(async () => {
  [server, store] = await Promise.all([
    startSftpServer(),
    createTestStore({ prefix: 'sluice-sftp-pipeline-' }),
  ]);
  ({ db, home } = store);
});

afterAll(async () => {
  await store?.close();
  await server?.stop();
});

let cases = 0;
/** A remote folder and a pipeline loading its CSV files over SFTP (through `port`, the server's by default). */
async function sftpPipeline(source: string[], port = server.port) {
  const n = ++cases;
  const dir = path.join(server.root, `inbox${n}`);
  await mkdir(dir);
  await chmod(dir, 0o777);
  const file = path.join(home, `pipeline${n}.yaml`);
  await writeFile(
    file,
    [
      `name: sftp_${n}`,
      'source:',
      `  url: sftp://${server.username}@127.0.0.1:${port}${dir}`,
      '  password: ${SFTP_PASSWORD}',
      `  hostKey: ${server.hostKeyFingerprint}`,
      "  glob: '*.csv'",
      ...source.map((line) => `  ${line}`),
      'parse: { type: csv }',
      `load: { type: postgres, table: rows_${n} }`,
      'run: { retry: { attempts: 3, baseDelay: 0.1s } }',
      '',
    ].join('\n'),
  );
  return {
    dir,
    async run(onLog: (entry: LogEntry) => void = () => undefined) {
      const messages: string[] = [];
      const summary = await runPipelineFile(db, file, {
        env: { SFTP_PASSWORD: server.password },
        home,
        onLog: (entry) => {
          messages.push(`${entry.level} ${entry.message}`);
          onLog(entry);
        },
      });
      return { summary, messages };
    },
    async count() {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM rows_${n}`);
      return rows[0]!.n;
    },
    async ledger() {
      const { rows } = await db.query<{ name: string }>('SELECT name FROM sluice.files WHERE pipeline = $1', [
        `sftp_${n}`,
      ]);
      return rows.map((r) => r.name);
    },
  };
}

const csv = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `${from + i},visitor${from + i}@example.com\n`).join('');

describe('sftp pipeline: a report is loaded whole, once', () => {
  it('leaves a report still being uploaded for the next run, which loads all of it and deletes it', async () => {
    const p = await sftpPipeline(['onLoad: delete', 'stableFor: 1s']);
    const report = path.join(p.dir, 'report.csv');
    await writeFile(report, `id,email\n${csv(1, 100)}`);

    // The sender is still writing while Sluice looks: 100 of 500 rows are there.
    const first = await p.run((entry) => {
      if (entry.message.startsWith('waiting')) appendFileSync(report, csv(101, 400));
    });
    expect(first.summary).toMatchObject({ status: 'succeeded', filesLoaded: 0, rowsLoaded: 0 });
    expect(first.messages).toContainEqual(
      expect.stringMatching(/^info report\.csv is still being written .*: left for the next run$/),
    );
    expect(await p.ledger()).toEqual([]);
    expect(await readdir(p.dir)).toEqual(['report.csv']);

    const second = await p.run();
    expect(second.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 500 });
    expect(await p.count()).toBe(500);
    expect(await readdir(p.dir)).toEqual([]);
  });

  it('does not delete a report that changed at the source after it was read', async () => {
    const p = await sftpPipeline(['onLoad: delete', 'stableFor: 0s']);
    const report = path.join(p.dir, 'again.csv');
    await writeFile(report, `id,email\n${csv(1, 5)}`);
    const { summary } = await p.run((entry) => {
      // Re-uploaded with one more row between the load and the clean-up.
      if (entry.message.startsWith('loaded again.csv')) appendFileSync(report, csv(6, 1));
    });
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 5 });
    expect(summary.warnings).toEqual([
      expect.stringMatching(
        /^again\.csv changed at the source after it was read \(\d+ → \d+ bytes\): not deleted/,
      ),
    ]);
    expect((await readFile(report, 'utf8')).trim().split('\n')).toHaveLength(7);
  });

  it('goes on over a new connection when the connection is cut during a download', async () => {
    const proxy = await startProxy(server.port);
    try {
      const p = await sftpPipeline(['onLoad: delete', 'stableFor: 0s'], proxy.port);
      // Big enough for the download to be well under way when the connection goes.
      await writeFile(path.join(p.dir, 'big.csv'), `id,email\n${csv(1, 60_000)}`);
      await writeFile(path.join(p.dir, 'small.csv'), `id,email\n${csv(60_001, 3)}`);
      const { summary } = await p.run((entry) => {
        if (entry.message.endsWith('files to consider')) proxy.cutAfter(200_000, { once: true });
      });
      expect(proxy.cuts).toBe(1);
      expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 2, rowsLoaded: 60_003 });
      expect(summary.warnings).toContainEqual(expect.stringMatching(/was lost while downloading .*big\.csv/));
      expect(await readdir(p.dir)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});
