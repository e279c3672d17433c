import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store } from '../../src/connectors/s3/s3-store.js';
import type { ObjectStore } from '../../src/connectors/s3/object-store.js';
import { runCli } from '../helpers/cli.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { tempDir, runPipelineFile } from '../helpers/pipeline-harness.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';
import { downloadVersion, duckdbRead, readCurrentVersion } from '../helpers/lake-reader.js';

// The lake loader against a real S3-compatible server (s3rver in a child process): versions written with
// the pointer last while a reader polls, partitions across December → January, a delta merged on keys, an
// empty delta, a failed upload, rollback and prune — read back by DuckDB.

let s3: S3Server;
let store: TestStore;
let lake: ObjectStore;
let dir: string;
let inbox: string;
let hook: TestHttpServer;

beforeAll(async () => {
  [s3, store] = await Promise.all([startS3Server('lake'), createTestStore({ prefix: 'sluice-lake-' })]);
  lake = await createS3Store({
    url: 's3://lake/warehouse',
    endpoint: s3.endpoint,
    username: s3.username,
    password: s3.password,
  });
  hook = await startHttpServer((_req, res) => {
    res.end('ok');
  });
  dir = await tempDir('sluice-lake-pipelines-');
  inbox = path.join(dir, 'inbox');
  await mkdir(inbox);
});

afterAll(async () => {
  await hook?.close();
  await lake?.close();
  await store?.close();
  await s3?.close();
});

async function pipeline(name: string, version: 'full' | 'delta'): Promise<string> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `name: ${name}
source:
  url: ./inbox
  glob: 'obs_*.csv'
  onLoad: delete
run:
  retry: { attempts: 1 }
parse:
  type: csv
check:
  columns:
    internal_series_code: { required: true }
    obs_time: { required: true, datetime: 'yyyy-MM-dd HH:mm' }
    value: { decimal: true }
load:
  type: lake
  dataset: series
  url: s3://lake/warehouse
  s3:
    endpoint: \${S3_ENDPOINT}
    username: \${S3_USER}
    password: \${S3_PASSWORD}
  version: ${version}
notify:
  on: [failure, version]
  webhook: { url: '${hook.origin}/lake' }
`,
  );
  return file;
}

const env = () => ({ S3_ENDPOINT: s3.endpoint, S3_USER: s3.username, S3_PASSWORD: s3.password });

async function drop(name: string, lines: string[]) {
  await writeFile(
    path.join(inbox, name),
    ['internal_series_code,obs_time,value', ...lines].join('\n') + '\n',
  );
}

describe('lake on S3', () => {
  it('writes versions with the pointer last, merges deltas, makes no version of an empty delta', async () => {
    const full = await pipeline('lake_full', 'full');
    const delta = await pipeline('lake_delta', 'delta');

    // A reader polls the lake the whole time: whatever pointer it finds, every object it leads to exists.
    let polling = true;
    let failed = false;
    let reads = 0;
    const poller = (async () => {
      while (polling && !failed) {
        await readCurrentVersion(lake, 'series');
        reads++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    try {
      await drop('obs_1.csv', ['A,2025-12-31 23:30,1.5', 'A,2026-01-01 00:30,2.5', 'B,2025-12-15 12:00,10']);
      await drop('obs_2.csv', ['B,2026-01-20 08:00,11']);
      const first = await runPipelineFile(store.db, full, { env: env(), home: store.home });
      expect(first.status).toBe('succeeded');
      expect(first.rowsLoaded).toBe(4);
      const v1 = await readCurrentVersion(lake, 'series');
      expect(v1!.manifest.rows).toBe(4);
      expect(v1!.manifest.partitions).toEqual([
        'series=A/year=2025/month=12',
        'series=A/year=2026/month=01',
        'series=B/year=2025/month=12',
        'series=B/year=2026/month=01',
      ]);
      expect(v1!.manifest.series).toEqual(['A', 'B']);
      expect(v1!.manifest.dateRange).toEqual({
        from: '2025-12-15T12:00:00.000Z',
        to: '2026-01-20T08:00:00.000Z',
      });
      expect(v1!.manifest.runs).toEqual([first.runId]);

      // DuckDB reads the Parquet files and their Hive partitions with the same rows and types.
      const local = await downloadVersion(lake, 'series', v1!.version, await tempDir('sluice-lake-read-'));
      const read = await duckdbRead(local, 'obs_time');
      expect(read.types).toMatchObject({
        internal_series_code: 'VARCHAR',
        obs_time: 'TIMESTAMP WITH TIME ZONE',
        value: 'DOUBLE',
        year: 'BIGINT',
        month: 'VARCHAR', // month=01 … month=12: DuckDB keeps the leading zero
      });
      expect(
        read.rows.map((r) => [
          r.internal_series_code,
          (r.obs_time as Date).toISOString(),
          r.value,
          r.year,
          r.month,
        ]),
      ).toEqual([
        ['B', '2025-12-15T12:00:00.000Z', 10, 2025n, '12'],
        ['A', '2025-12-31T23:30:00.000Z', 1.5, 2025n, '12'],
        ['A', '2026-01-01T00:30:00.000Z', 2.5, 2026n, '01'],
        ['B', '2026-01-20T08:00:00.000Z', 11, 2026n, '01'],
      ]);

      // A delta: one value corrected, one new observation; the untouched partitions are carried over.
      await drop('obs_3.csv', ['A,2026-01-01 00:30,2.75', 'A,2026-02-01 00:00,3']);
      const second = await runPipelineFile(store.db, delta, { env: env(), home: store.home });
      expect(second.error).toBeUndefined();
      const v2 = await readCurrentVersion(lake, 'series');
      expect(v2!.version > v1!.version).toBe(true);
      expect(v2!.manifest.basedOn).toBe(v1!.version);
      expect(v2!.manifest.rows).toBe(5);
      const merged = await duckdbRead(
        await downloadVersion(lake, 'series', v2!.version, await tempDir('sluice-lake-read-')),
        'obs_time',
      );
      expect(merged.rows.map((r) => [r.internal_series_code, r.value])).toEqual([
        ['B', 10],
        ['A', 1.5],
        ['A', 2.75],
        ['B', 11],
        ['A', 3],
      ]);
      // A notice of each new version, by webhook, with its dataset, version and manifest.
      const notices = hook.requests.map(
        (r) => JSON.parse(r.body) as { text: string; summary: { published?: unknown[] } },
      );
      expect(notices.map((n) => n.summary.published)).toEqual([
        [
          {
            dataset: 'series',
            version: v1!.version,
            rows: 4,
            manifest: `s3://lake/warehouse/datasets/series/versions/${v1!.version}/manifest.json`,
          },
        ],
        [
          {
            dataset: 'series',
            version: v2!.version,
            rows: 5,
            manifest: `s3://lake/warehouse/datasets/series/versions/${v2!.version}/manifest.json`,
          },
        ],
      ]);
      expect(notices[1]!.text).toContain(`version ${v2!.version} of series`);
      // The delta's own staging files are gone once published.
      expect(await lake.list(`datasets/series/versions/${v2!.version}/delta`)).toEqual([]);

      // An empty delta (no new file) makes no version.
      const third = await runPipelineFile(store.db, delta, { env: env(), home: store.home });
      expect(third.status).toBe('succeeded');
      expect((await readCurrentVersion(lake, 'series'))!.version).toBe(v2!.version);
      const versions = (await lake.list('datasets/series/versions')).map((k) => k.split('/')[3]);
      expect(new Set(versions)).toEqual(new Set([v1!.version, v2!.version]));
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      polling = false;
      await poller; // throws when the reader ever found a pointer leading to a missing object
    }
    expect(reads).toBeGreaterThan(0);
  });

  it('leaves the pointer on the old version when the server goes away mid-version, and the rerun publishes', async () => {
    const full = await pipeline('lake_fail', 'full');
    const before = (await readCurrentVersion(lake, 'series'))!.version;
    await drop('obs_4.csv', ['C,2026-03-01 00:00,1']);
    await s3.stop();
    const failed = await runPipelineFile(store.db, full, { env: env(), home: store.home });
    expect(failed.status).toBe('failed');
    await s3.start();
    expect((await readCurrentVersion(lake, 'series'))!.version).toBe(before);
    const rerun = await runPipelineFile(store.db, full, { env: env(), home: store.home });
    expect(rerun.error).toBeUndefined();
    const after = await readCurrentVersion(lake, 'series');
    expect(after!.version > before).toBe(true);
    expect(after!.manifest.rows).toBe(1);
    expect(after!.manifest.series).toEqual(['C']);
  });

  it('rolls back and prunes with sluice dataset, never the current version or a newer one', async () => {
    const cliEnv = { ...store.env, AWS_ACCESS_KEY_ID: s3.username, AWS_SECRET_ACCESS_KEY: s3.password };
    const list = await runCli(['dataset', 'versions', 'series', '--json'], cliEnv);
    expect(list.code).toBe(0);
    const published = (JSON.parse(list.stdout) as { version: string; status: string }[])
      .filter((v) => v.status === 'published')
      .map((v) => v.version);
    expect(published).toHaveLength(3);
    const [newest, middle, oldest] = published as [string, string, string];

    const back = await runCli(['dataset', 'rollback', 'series', oldest], cliEnv);
    expect(back.stderr).toBe('');
    expect((await readCurrentVersion(lake, 'series'))!.version).toBe(oldest);
    // The current version is the oldest: the two newer ones stay.
    const none = await runCli(['dataset', 'prune', 'series', '--keep', '1'], cliEnv);
    expect(none.stdout).toMatch(/nothing to prune/);
    expect(await lake.list(`datasets/series/versions/${middle}`)).not.toEqual([]);

    await runCli(['dataset', 'rollback', 'series', newest], cliEnv);
    const pruned = await runCli(['dataset', 'prune', 'series', '--keep', '1'], cliEnv);
    expect(pruned.stdout).toMatch(/pruned 2 versions/);
    expect(await lake.list(`datasets/series/versions/${oldest}`)).toEqual([]);
    expect(await lake.list(`datasets/series/versions/${middle}`)).toEqual([]);
    expect((await readCurrentVersion(lake, 'series'))!.version).toBe(newest);

    const gone = await runCli(['dataset', 'rollback', 'series', oldest], cliEnv);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/is pruned: only a published version can be current/);
    const shown = await runCli(['dataset', 'show', 'series'], cliEnv);
    expect(JSON.parse(shown.stdout)).toMatchObject({ version: newest, dataset: 'series' });
    const all = await runCli(['dataset', 'list'], cliEnv);
    expect(all.stdout).toMatch(new RegExp(`series\\s+lake\\s+${newest}`));
  });
});
