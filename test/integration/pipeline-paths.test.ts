import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('relative paths in a pipeline file', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('are read from the folder of the file, so the pipeline runs the same from any working directory', async () => {
    const root = await tempDir();
    const project = path.join(root, 'project');
    const inbox = path.join(project, 'inbox');
    await mkdir(path.join(project, 'pipelines'), { recursive: true });
    await mkdir(inbox);
    await writeFile(path.join(inbox, 'orders_1.csv'), 'id,amount\n1,10\n2,20\n');
    await writeFile(path.join(inbox, 'orders_2.csv'), 'id,total\n3,30\n'); // breaks the layout
    await writeFile(
      path.join(project, 'pipelines', 'orders.yaml'),
      `name: orders
source:
  url: ../inbox             # the project's inbox, wherever sluice is run from
  glob: orders_*.csv
  onLoad: move
  processedDir: done        # relative to the source folder: inbox/done
  onReject: move
  rejectedDir: bad
parse:
  type: csv
  expectHeader: [id, amount]
load:
  type: postgres
  table: orders
archive:
  dir: \${ORDERS_ARCHIVE:-../archive}
  name: orders_{yyyyMMdd}.zip
`,
    );
    // Run from a folder of its own, naming the file relative to it.
    const elsewhere = path.join(root, 'elsewhere');
    await mkdir(elsewhere);
    const file = path.join('..', 'project', 'pipelines', 'orders.yaml');
    const env = { DATABASE_URL: testDb.url, SLUICE_HOME: path.join(root, 'home'), ORDERS_ARCHIVE: '' };

    const lint = await runCli(['validate', file], env, { cwd: elsewhere });
    expect(lint.code, lint.stderr).toBe(0);
    expect(lint.stdout).toBe(`${file}: ok (pipeline orders: files → csv → postgres)\n`);

    const run = await runCli(['run', file, '--as-of', '2026-01-15'], env, { cwd: elsewhere });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('files: 1 loaded, 0 skipped, 1 rejected');

    expect(await readdir(path.join(inbox, 'done'))).toEqual(['orders_1.csv']);
    expect(await readdir(path.join(inbox, 'bad'))).toEqual(['orders_2.csv']);
    expect(await readdir(path.join(project, 'archive'))).toEqual(['orders_20260115.zip']);
    expect(await readdir(elsewhere)).toEqual([]);
    const client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>('SELECT id FROM orders ORDER BY id');
      expect(rows.map((r) => r.id)).toEqual(['1', '2']);
    } finally {
      await client.end();
    }
  });
});
