import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeBigXlsx } from '../helpers/workbooks.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const run = promisify(execFile);

// Memory must not grow with the file: a 200k-row workbook imports with about the peak of a 20k-row one.
describe('a 200k-row XLSX import', () => {
  let testDb: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    dir = await tempDir();
  });
  afterAll(async () => {
    await testDb.drop();
  });

  async function importPeak(rows: number) {
    const inbox = path.join(dir, `in-${rows}`);
    await mkdir(inbox, { recursive: true });
    const file = path.join(inbox, `big_${rows}.xlsx`);
    await writeBigXlsx(file, rows);
    const rule = {
      name: `big${rows}`,
      filePattern: '.*',
      fileType: 'xlsx',
      sourceFolder: inbox,
      archiveFolder: path.join(dir, `archive-${rows}`),
      targetTable: `big_${rows}`,
    };
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO, 'test/helpers/import-peak-rss.ts'),
        testDb.url,
        JSON.stringify(rule),
        file,
      ],
      { cwd: REPO, maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout) as { status: string; rows: number; peakRssMb: number };
  }

  it('imports with flat memory', { timeout: 300_000 }, async () => {
    const small = await importPeak(20_000);
    const big = await importPeak(200_000);
    expect(small).toMatchObject({ status: 'loaded', rows: 20_000 });
    expect(big).toMatchObject({ status: 'loaded', rows: 200_000 });
    // Ten times the rows, not ten times the memory: allow some noise (GC timing), not growth with the file.
    expect(big.peakRssMb).toBeLessThan(small.peakRssMb + 80);
    expect(big.peakRssMb).toBeLessThan(400);
    process.stdout.write(
      `peak RSS: 20k rows ${small.peakRssMb.toFixed(0)} MB, 200k rows ${big.peakRssMb.toFixed(0)} MB\n`,
    );
  });
});
