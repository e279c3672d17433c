import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { malformedCorpus, writeMalformed, type MalformedInput } from '../helpers/malformed-corpus.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

// Each bad input of the corpus goes through `sluice run` (the real CLI), one pipeline each: a files source on a
// folder of its own, the pipeline's parser, a check on a column or two, the postgres loader. Whatever the
// input, the run ends (exit 0, the file loaded or rejected with its reason), prints no stack, and accounts for
// every row it read.
describe('malformed inputs through sluice run', () => {
  let testDb: TestDatabase;
  let client: pg.Client;
  let dir: string;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    dir = await tempDir();
  });
  afterAll(async () => {
    await client?.end();
    await testDb?.drop();
  });

  async function runInput(input: MalformedInput, index: number) {
    const name = `malformed_${index}`;
    const inbox = path.join(dir, name);
    await mkdir(inbox, { recursive: true });
    await writeMalformed(input, path.join(inbox, input.fileName));
    const pipeline = path.join(dir, `${name}.yaml`);
    const section = (value: unknown) => JSON.stringify(value);
    await writeFile(
      pipeline,
      [
        `name: ${name}`,
        `source: { url: ${section(inbox)}, glob: '*' }`,
        `parse: ${section(input.parse)}`,
        ...(input.check ? [`check: ${section({ columns: input.check })}`] : []),
        `load: ${section({ type: 'postgres', table: name, ...input.load })}`,
        '',
      ].join('\n'),
    );
    const result = await runCli(['run', pipeline], {
      DATABASE_URL: testDb.url,
      SLUICE_HOME: path.join(dir, '.sluice'),
    });
    const runs = await client.query<{
      status: string;
      rows_read: string;
      rows_loaded: string;
      rows_rejected: string;
      error: string | null;
    }>(
      'SELECT status, rows_read::text, rows_loaded::text, rows_rejected::text, error FROM sluice.runs WHERE pipeline = $1',
      [name],
    );
    const files = await client.query<{
      name: string;
      status: string;
      reason: string | null;
      rows_read: string;
      rows_loaded: string;
      rows_rejected: string;
    }>(
      'SELECT name, status, reason, rows_read::text, rows_loaded::text, rows_rejected::text FROM sluice.files WHERE pipeline = $1',
      [name],
    );
    return { result, runs: runs.rows, files: files.rows };
  }

  malformedCorpus.forEach((input, index) => {
    it(input.name, async () => {
      const { result, runs, files } = await runInput(input, index);
      const output = result.stdout + result.stderr;
      expect(result.stderr, output).not.toMatch(/\n\s+at /);
      expect(result.code, output).toBe(0);
      expect(runs, output).toHaveLength(1);
      const run = runs[0]!;
      expect(run.status, output).toBe('succeeded');
      expect(Number(run.rows_read), output).toBe(Number(run.rows_loaded) + Number(run.rows_rejected));
      expect(
        files.map((f) => f.name),
        output,
      ).toEqual([input.fileName]);
      expect([input.expect.file].flat(), output).toContain(files[0]!.status);
      const file = files[0]!;
      expect(Number(file.rows_read), output).toBe(Number(file.rows_loaded) + Number(file.rows_rejected));
      if (input.expect.rowsLoaded !== undefined)
        expect(Number(file.rows_loaded), output).toBe(input.expect.rowsLoaded);
      if (input.expect.rowsRejected !== undefined) {
        expect(Number(file.rows_rejected), output).toBe(input.expect.rowsRejected);
      }
      if (input.expect.reason) expect(file.reason, output).toMatch(input.expect.reason);
      // Warnings go to stderr, where the user sees them (with or without a terminal).
      // Off a terminal the run's summary (stdout) carries its warnings.
      if (input.expect.warning) expect(result.stdout, output).toMatch(input.expect.warning);
    });
  });
});
