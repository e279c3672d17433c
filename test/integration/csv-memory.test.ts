import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const run = promisify(execFile);

const FIELD_BYTES = 10 * 1024 * 1024;

/** Writes a CSV of `rows` ordinary rows; with `hugeAt`, row `hugeAt` holds a quoted 10 MB field of many lines. */
async function writeCsv(file: string, rows: number, hugeAt?: number): Promise<void> {
  const out = createWriteStream(file);
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', resolve));
  await write('id,note,amount\n');
  for (let i = 1; i <= rows; i++) {
    if (i === hugeAt) {
      await write(`${i},"`);
      // 100-character lines with a doubled quote in each, written in pieces like any large file.
      const line = `${'x'.repeat(90)}""quoted\n`;
      const piece = line.repeat(1024);
      for (let written = 0; written < FIELD_BYTES; written += piece.length) await write(piece);
      await write(`",${i}\n`);
    } else {
      await write(`${i},note ${i} ${'n'.repeat(80)},${i * 1.5}\n`);
    }
  }
  out.end();
  await finished(out);
}

// One quoted 10 MB field must not cost more memory than an ordinary file of that size: the field is over
// maxFieldSize, its row is rejected with its line, and the rows after it load.
describe('a CSV with a quoted 10 MB field of many lines', () => {
  let testDb: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    dir = await tempDir();
  });
  afterAll(async () => {
    await testDb.drop();
  });

  async function importPeak(name: string, write: (file: string) => Promise<void>) {
    const inbox = path.join(dir, `in-${name}`);
    await mkdir(inbox, { recursive: true });
    const file = path.join(inbox, `${name}.csv`);
    await write(file);
    const rule = {
      name,
      filePattern: '.*',
      fileType: 'csv',
      sourceFolder: inbox,
      archiveFolder: path.join(dir, `archive-${name}`),
      targetTable: name,
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

  it(
    'rejects the row with its line and keeps memory at the level of an ordinary file',
    { timeout: 300_000 },
    async () => {
      // About the same size: 110,000 ordinary rows of ~100 bytes.
      const ordinary = await importPeak('ordinary', (file) => writeCsv(file, 110_000));
      const huge = await importPeak('huge', (file) => writeCsv(file, 2_000, 1_000));
      expect(ordinary).toMatchObject({ status: 'loaded', rows: 110_000 });
      expect(huge).toMatchObject({ status: 'loaded', rows: 1_999 });
      const client = new pg.Client({ connectionString: testDb.url });
      await client.connect();
      try {
        const rejects = await client.query<{ line: string; rule: string; message: string; raw: string }>(
          `SELECT r.line::text AS line, r.rule, r.message, r.raw FROM sluice.rejects r
           JOIN sluice.runs u ON u.id = r.run_id WHERE u.pipeline LIKE '%huge%'`,
        );
        expect(rejects.rows).toHaveLength(1);
        expect(rejects.rows[0]).toMatchObject({
          line: '1001',
          rule: 'fieldSize',
          message: 'field 2 is longer than 1000000 characters (maxFieldSize)',
        });
        expect(rejects.rows[0]!.raw.length).toBeLessThan(2_000);
        // The rows after the long one load with their own lines (ids 1001 and on are there).
        const after = await client.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM huge WHERE id::int > 1000',
        );
        expect(after.rows[0]!.n).toBe('1000');
      } finally {
        await client.end();
      }
      // Some noise (GC timing) is allowed; holding the field (10 MB, as text and as its raw line) is not.
      expect(huge.peakRssMb).toBeLessThan(ordinary.peakRssMb + 15);
      process.stdout.write(
        `peak RSS: ordinary ${ordinary.peakRssMb.toFixed(0)} MB, one 10 MB field ${huge.peakRssMb.toFixed(0)} MB\n`,
      );
    },
  );
});
