import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../src/connectors/s3/object-store.js';
import { createS3Store } from '../../src/connectors/s3/s3-store.js';
import { BIN, ensureBuilt, pathWithNode, runBin } from '../helpers/bin.js';
import { freePort } from '../helpers/free-port.js';
import { downloadVersion, duckdbRead, readCurrentVersion } from '../helpers/lake-reader.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// The real bin killed with SIGKILL in the middle of a version — one file's rows committed and uploaded, the
// next one's upload held by a proxy — then run again: the version holds every row once, no half version is
// ever visible, and the times (across both DST changes in Madrid) and the numbers (1.234,5) read back right.

let s3: S3Server;
let store: TestStore;
let lake: ObjectStore;
let dir: string;
let proxy: Awaited<ReturnType<typeof holdingProxy>>;

/** A TCP proxy to s3rver that holds (never forwards) a request whose bytes contain `pattern`. */
async function holdingProxy(target: number) {
  const port = await freePort();
  let pattern: string | undefined;
  let held = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    sockets.add(client).add(upstream);
    let holding = false;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
    client.on('data', (chunk: Buffer) => {
      if (!holding && pattern && chunk.toString('latin1').includes(pattern)) {
        holding = true;
        held++;
      }
      if (!holding) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    hold(what: string | undefined) {
      pattern = what;
    },
    get held() {
      return held;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

beforeAll(async () => {
  [s3, store] = await Promise.all([startS3Server('lake'), createTestStore({ prefix: 'sluice-lake-crash-' })]);
  await ensureBuilt();
  proxy = await holdingProxy(Number(new URL(s3.endpoint).port));
  lake = await createS3Store({
    url: 's3://lake/crash',
    endpoint: s3.endpoint,
    username: s3.username,
    password: s3.password,
  });
  dir = await tempDir('sluice-lake-crash-');
});

afterAll(async () => {
  await lake?.close();
  await proxy?.stop();
  await store?.close();
  await s3?.close();
});

const CSV_A = `internal_series_code;obs_time;value
PRICE;2026-03-29 01:30;1.234,5
PRICE;2026-03-29 02:30;1 234,75
PRICE;2026-03-29 03:30;(12)
`;
const CSV_B = `internal_series_code;obs_time;value
PRICE;2026-10-25 01:30;0,5
PRICE;2026-10-25 02:30;2.000.000,25
PRICE;2026-10-25 03:30;-3
`;

describe('lake: SIGKILL mid-version', () => {
  it('reruns into one whole version, never showing a half one', async () => {
    const inbox = path.join(dir, 'inbox');
    await mkdir(inbox);
    await writeFile(path.join(inbox, 'a.csv'), CSV_A);
    await writeFile(path.join(inbox, 'b.csv'), CSV_B);
    const pipeline = path.join(dir, 'crash.yaml');
    await writeFile(
      pipeline,
      `name: lake_crash
source: { url: ./inbox, glob: '*.csv', onLoad: delete }
run: { retry: { attempts: 1 } }
parse: { type: csv, delimiter: ';' }
transform:
  - type: normalize
    timeZone: Europe/Madrid
    timestamps: [obs_time]
    numbers: { columns: [value], decimal: ',', parenthesesNegative: true }
check:
  columns:
    obs_time: { datetime: 'yyyy-MM-dd HH:mm' }
load:
  type: lake
  dataset: prices
  url: s3://lake/crash
  s3: { endpoint: '${proxy.endpoint}', username: S3RVER, password: S3RVER }
`,
    );
    const env = { ...store.env, PATH: pathWithNode(), NO_COLOR: '1' };

    // b.csv's data file is named after its content: hold the upload of exactly that one.
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    proxy.hold(`part-${sha(sha(CSV_B)).slice(0, 16)}`);
    const child = spawn(BIN, ['run', pipeline], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const admin = new pg.Client({ connectionString: store.url });
    await admin.connect();
    try {
      // a.csv committed (its rows are in the open version) and b.csv's upload is held: the middle of a version.
      const deadline = Date.now() + 120_000;
      for (;;) {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM sluice.files WHERE pipeline = 'lake_crash' AND status = 'loaded'`,
        );
        if (rows[0]!.n === 1 && proxy.held > 0) break;
        if (Date.now() > deadline) throw new Error('the run never reached the middle of its version');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.kill('SIGKILL');
      await exited;
      proxy.hold(undefined);

      expect(await readCurrentVersion(lake, 'prices')).toBeUndefined(); // no pointer: nothing half-made is visible
      const staged = await admin.query<{ status: string }>(
        `SELECT status FROM sluice.lake_versions WHERE dataset = 'prices'`,
      );
      expect(staged.rows).toEqual([{ status: 'staged' }]);
    } finally {
      await admin.end();
    }

    const rerun = await runBin(['run', pipeline], { cwd: dir, env });
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toMatch(/published version \d+T\d+Z of prices: 6 rows/);

    const current = await readCurrentVersion(lake, 'prices');
    expect(current!.manifest.rows).toBe(6);
    // Every object under the version's data/ is one the manifest lists: nothing left of the killed attempt.
    const data = await lake.list(`datasets/prices/versions/${current!.version}/data`);
    expect(data.sort()).toEqual(current!.manifest.files.map((f) => f.path).sort());

    const read = await duckdbRead(
      await downloadVersion(lake, 'prices', current!.version, await tempDir('sluice-lake-crash-read-')),
      'obs_time',
    );
    expect(read.types).toMatchObject({ obs_time: 'TIMESTAMP WITH TIME ZONE', value: 'DOUBLE' });
    expect(read.rows.map((r) => [(r.obs_time as Date).toISOString(), r.value])).toEqual([
      ['2026-03-29T00:30:00.000Z', 1234.5], // 01:30 CET
      ['2026-03-29T01:30:00.000Z', 1234.75], // 02:30 does not exist: moved forward to 03:30 CEST
      ['2026-03-29T01:30:00.000Z', -12], // 03:30 CEST
      ['2026-10-24T23:30:00.000Z', 0.5], // 01:30 CEST
      ['2026-10-25T00:30:00.000Z', 2000000.25], // 02:30 happens twice: the earlier, CEST
      ['2026-10-25T02:30:00.000Z', -3], // 03:30 CET
    ]);
    // Partitions follow the UTC month: 2026-10-24 23:30 UTC is still October.
    expect(current!.manifest.partitions).toEqual([
      'series=PRICE/year=2026/month=03',
      'series=PRICE/year=2026/month=10',
    ]);
  });
});
