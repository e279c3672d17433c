import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipelineFile, tempDir } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// The normalize stage inside a real run: last-wins de-duplication holds a file's rows until its end, and
// the runner loads what it releases, file by file, with the count in the run's summary.

let store: TestStore;
let dir: string;

beforeAll(async () => {
  store = await createTestStore({ prefix: 'sluice-normalize-' });
  dir = await tempDir('sluice-normalize-pipeline-');
  await mkdir(path.join(dir, 'inbox'));
});

afterAll(async () => {
  await store?.close();
});

describe('normalize in a pipeline', () => {
  it('loads the last row of each key of each file, and says how many it dropped', async () => {
    const csv = (rows: string[]) => ['code,price', ...rows].join('\n') + '\n';
    await writeFile(path.join(dir, 'inbox', 'prices_1.csv'), csv(['a,1', 'b,2', 'a,3', 'c,4', 'b,5']));
    await writeFile(path.join(dir, 'inbox', 'prices_2.csv'), csv(['a,6', 'a,7']));
    const file = path.join(dir, 'prices.yaml');
    await writeFile(
      file,
      `name: prices
source:
  url: ./inbox
  glob: 'prices_*.csv'
  stableFor: 0s
parse:
  type: csv
transform:
  - type: normalize
    dedupe: { keys: [code], keep: last }
load:
  type: postgres
  table: normalized_prices
`,
    );
    const summary = await runPipelineFile(store.db, file, { env: {}, home: store.home });
    expect(summary.error).toBeUndefined();
    expect(summary.rowsRead).toBe(7);
    expect(summary.rowsLoaded).toBe(4);
    expect(summary.outcomes).toContain('normalize: 3 rows dropped as duplicates');
    const { rows } = await store.db.query<{ code: string; price: string }>(
      'SELECT code, price FROM normalized_prices ORDER BY price',
    );
    expect(rows.map((r) => `${r.code}=${r.price}`)).toEqual(['a=3', 'c=4', 'b=5', 'a=7']);
  });
});
