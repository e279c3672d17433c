import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

// `sluice rules …` as a user runs it, against a real PostgreSQL.
describe('sluice rules', () => {
  let testDb: TestDatabase;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    dir = await tempDir();
    env = { DATABASE_URL: testDb.url, SLUICE_HOME: path.join(dir, 'home'), INBOX: path.join(dir, 'in') };
  });
  afterAll(async () => {
    await testDb.drop();
  });

  it('adds, lists, edits, disables and exports rules; the export adds back', async () => {
    const file = path.join(dir, 'rules.yaml');
    await writeFile(
      file,
      `rules:
  - name: sales
    filePattern: '^sales_\\d{8}\\.csv$'
    fileType: csv
    sourceFolder: \${INBOX}
    archiveFolder: \${INBOX}/archive
    targetTable: imports.sales
    schema: ignore_new
    priority: 5
    parser: { delimiter: ';' }
    datasetDate: { from: filename, delimiter: _, token: 2, format: yyyyMMdd }
  - name: stock
    filePattern: '^stock.*\\.xlsx$'
    fileType: xlsx
    sourceFolder: \${INBOX}
    archiveFolder: /tmp/stock-archive
    targetTable: stock
    parser: { sheet: Data, headerRow: 2 }
    datasetDate: { from: cell, cell: B1 }
`,
    );
    const added = await runCli(['rules', 'add', file], env);
    expect(added.stderr).toBe('');
    expect(added.stdout).toBe('saved 2 rules: sales, stock\n');

    const again = await runCli(['rules', 'add', file], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('import rules "sales", "stock" already exist');

    const listed = await runCli(['rules', 'list'], env);
    expect(listed.stdout.split('\n')[0]).toMatch(/^sales\s+active\s+5\s+csv .* \(schema: ignore_new\)$/);

    // The old name of the key is answered with the new one.
    const renamed = await runCli(['rules', 'edit', 'sales', '--set', 'strategy=strict'], env);
    expect(renamed.code).toBe(2);
    expect(renamed.stderr).toBe('sluice: import rule "sales": strategy: renamed: write schema\n');

    const edited = await runCli(
      ['rules', 'edit', 'stock', '--set', 'priority=9', '--set', 'parser.headerRow=3'],
      env,
    );
    expect(edited.stdout).toBe('saved rule stock\n');
    expect((await runCli(['rules', 'disable', 'sales'], env)).stdout).toBe('rule sales disabled\n');

    const json = JSON.parse((await runCli(['rules', 'list', '--json'], env)).stdout) as Record<
      string,
      unknown
    >[];
    expect(json.map((r) => [r.name, r.priority, r.active])).toEqual([
      ['stock', 9, true],
      ['sales', 5, false],
    ]);
    expect(json[0]).toMatchObject({
      parser: { sheet: 'Data', headerRow: 3 },
      datasetDate: { from: 'cell', cell: 'B1' },
    });

    const exported = path.join(dir, 'exported.yaml');
    expect((await runCli(['rules', 'export', '--out', exported], env)).code).toBe(0);
    const doc = parse(await readFile(exported, 'utf8')) as { rules: Record<string, unknown>[] };
    expect(doc.rules.map((r) => r.name)).toEqual(['stock', 'sales']);
    expect(doc.rules[1]).toMatchObject({
      sourceFolder: env.INBOX,
      schema: 'ignore_new',
      datasetDate: { from: 'filename', delimiter: '_', token: 2, format: 'yyyyMMdd' },
    });
    // What export writes, add reads back unchanged.
    const replaced = await runCli(['rules', 'add', '--replace', exported], env);
    expect(replaced.stdout).toBe('saved 2 rules: stock, sales\n');
    const after = JSON.parse((await runCli(['rules', 'list', '--json'], env)).stdout) as unknown[];
    expect(after).toEqual(json);
  });

  it('refuses a bad regex and equal folders with a clear message, saving nothing', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      `rules:
  - name: broken
    filePattern: '^report_(\\d+.csv$'
    fileType: csv
    sourceFolder: /data/in
    archiveFolder: /data/in
    targetTable: reports
`,
    );
    const result = await runCli(['rules', 'add', file], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`sluice: ${file}: the import rules are invalid (2 problems):\n`);
    expect(result.stderr).toMatch(/\n {2}3:18 rules\[0\]\.filePattern: not a valid regular expression/);
    expect(result.stderr).toMatch(
      /\n {2}6:20 rules\[0\]\.archiveFolder: the archive folder must differ from the source folder \(\/data\/in\)/,
    );
    const edit = await runCli(['rules', 'edit', 'stock', '--set', 'archiveFolder=' + env.INBOX], env);
    expect(edit.code).toBe(2);
    expect(edit.stderr).toContain(
      'sluice: import rule "stock": archiveFolder: the archive folder must differ',
    );
    const names = (
      JSON.parse((await runCli(['rules', 'list', '--json'], env)).stdout) as { name: string }[]
    ).map((r) => r.name);
    expect(names).toEqual(['stock', 'sales']);
  });
});
