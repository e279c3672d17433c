import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImportRule, type ImportRule } from '../../src/core/import-rule-spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { importFile } from '../../src/runner/import-file.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { listDatasets } from '../../src/store/datasets.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { writeXls, writeXlsx } from '../helpers/workbooks.js';

const registry = createRegistry();

// Imports of one file under a rule, on a real PostgreSQL: datasets, strategies, names, dates.
describe('importFile', () => {
  let testDb: TestDatabase;
  let db: Database;
  let home: string;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    home = await tempDir();
    db = await openStore({ databaseUrl: testDb.url, home });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  /** A rule over its own inbox and archive folders. */
  async function setup(name: string, rule: Partial<ImportRule> & Record<string, unknown> = {}) {
    const inbox = path.join(home, name, 'inbox');
    const archive = path.join(home, name, 'archive');
    await mkdir(inbox, { recursive: true });
    const r = parseImportRule(
      {
        name,
        filePattern: '.*',
        fileType: 'csv',
        sourceFolder: inbox,
        archiveFolder: archive,
        targetTable: name,
        ...rule,
      },
      registry,
    );
    const run = async (file: string, content?: string) => {
      if (content !== undefined) await writeFile(path.join(inbox, file), content);
      return importFile({ db, registry, home, rule: r, file: path.join(inbox, file) });
    };
    return { inbox, archive, rule: r, run };
  }

  const rows = async (sql: string) => (await db.query(sql)).rows;
  const ls = async (dir: string) => (await readdir(dir).catch(() => [])).sort();

  it('imports a CSV as an active dataset whose rows carry its id, records the mapping and archives the file', async () => {
    const { inbox, archive, run } = await setup('sales', {
      datasetDate: { from: 'filename', delimiter: '_', token: 2, format: 'yyyyMMdd' },
      parser: { delimiter: ';' },
    });
    const result = await run('sales_20240131.csv', 'Client Name;Amount-EUR\nacme;10\nglobex;2.5\n');
    expect(result).toMatchObject({
      status: 'loaded',
      datasetStatus: 'active',
      label: 'sales',
      date: '2024-01-31',
      rowsLoaded: 2,
    });
    expect(
      await rows('SELECT dataset_id::text, client_name, amount_eur FROM sales ORDER BY client_name'),
    ).toEqual([
      { dataset_id: result.datasetId, client_name: 'acme', amount_eur: '10' },
      { dataset_id: result.datasetId, client_name: 'globex', amount_eur: '2.5' },
    ]);
    const [dataset] = await listDatasets(db, { rule: 'sales' });
    expect(dataset).toMatchObject({
      label: 'sales',
      date: '2024-01-31',
      status: 'active',
      row_count: 2,
      file_name: 'sales_20240131.csv',
      column_map: [
        { header: 'Client Name', column: 'client_name' },
        { header: 'Amount-EUR', column: 'amount_eur' },
      ],
    });
    const ledger = await rows(`SELECT id::text, status FROM sluice.files WHERE name = 'sales_20240131.csv'`);
    expect(ledger).toEqual([{ id: dataset!.file_id, status: 'loaded' }]);
    expect(await ls(inbox)).toEqual([]);
    expect(await ls(archive)).toEqual(['sales_20240131.csv']);
    const types = await rows(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'sales' ORDER BY ordinal_position`,
    );
    expect(types).toEqual([
      { column_name: 'dataset_id', data_type: 'bigint' },
      { column_name: 'client_name', data_type: 'text' },
      { column_name: 'amount_eur', data_type: 'numeric' },
    ]);
  });

  it('a re-import of the same label and date supersedes the old dataset; the same content again is skipped', async () => {
    const { archive, run } = await setup('stock', {
      datasetDate: { from: 'filename', delimiter: '_', token: 2, format: 'yyyyMMdd' },
    });
    const first = await run('stock_20240201.csv', 'item,qty\nbolt,5\nnut,7\n');
    const other = await run('stock_20240202.csv', 'item,qty\nbolt,1\n');
    const second = await run('stock_20240201.csv', 'item,qty\nbolt,6\n');
    expect(second).toMatchObject({
      status: 'loaded',
      datasetStatus: 'active',
      superseded: [first.datasetId],
    });
    const datasets = await listDatasets(db, { rule: 'stock' });
    expect(datasets.map((d) => [d.id, d.date, d.status, d.superseded_by])).toEqual([
      [second.datasetId, '2024-02-01', 'active', null],
      [other.datasetId, '2024-02-02', 'active', null],
      [first.datasetId, '2024-02-01', 'inactive', second.datasetId],
    ]);
    // The rows of the active datasets are today's stock.
    expect(
      await rows(
        `SELECT s.item, s.qty FROM stock s JOIN sluice.datasets d ON d.id = s.dataset_id
          WHERE d.status = 'active' AND d.date = '2024-02-01'`,
      ),
    ).toEqual([{ item: 'bolt', qty: 6 }]);

    const again = await run('stock_20240201.csv', 'item,qty\nbolt,6\n');
    expect(again.status).toBe('skipped');
    expect(again.reason).toMatch(/same content as stock_20240201\.csv/);
    expect((await listDatasets(db, { rule: 'stock' })).length).toBe(3);
    expect(await ls(archive)).toEqual([
      'stock_20240201.csv',
      expect.stringMatching(/^stock_20240201_\d{8}T\d{6}Z\.csv$/),
      expect.stringMatching(/^stock_20240201_\d{8}T\d{6}Z(_2)?\.csv$/),
      'stock_20240202.csv',
    ]);
  });

  it('header-only and empty files give empty datasets and are archived all the same', async () => {
    const { archive, run } = await setup('blank');
    const headerOnly = await run('header.csv', 'a,b\n');
    const empty = await run('empty.csv', '');
    const blanks = await run('blanks.csv', '\n  \n');
    const xlsx = await setup('blank_xlsx', { fileType: 'xlsx' });
    await writeXlsx(path.join(xlsx.inbox, 'empty.xlsx'), []);
    const emptyXlsx = await xlsx.run('empty.xlsx');
    for (const r of [headerOnly, empty, blanks, emptyXlsx])
      expect(r).toMatchObject({ status: 'loaded', datasetStatus: 'empty', rowsLoaded: 0 });
    expect(await ls(archive)).toEqual(['blanks.csv', 'empty.csv', 'header.csv']);
    expect(await ls(path.join(home, 'blank_xlsx', 'archive'))).toEqual(['empty.xlsx']);
    expect(
      await rows(`SELECT column_name FROM information_schema.columns WHERE table_name = 'blank' ORDER BY 1`),
    ).toEqual([{ column_name: 'a' }, { column_name: 'b' }, { column_name: 'dataset_id' }]);
    // The newest of a label is the current one: the empty file replaced the header-only one.
    const statuses = (await listDatasets(db, { rule: 'blank' })).map((d) => d.status);
    expect(statuses).toEqual(['empty', 'inactive', 'inactive']);
  });

  it('a new column: evolve adds it, ignore_new leaves it out (mapped to null), strict refuses the file', async () => {
    for (const strategy of ['evolve', 'ignore_new', 'strict'] as const) {
      const table = `new_col_${strategy}`;
      const { run, inbox } = await setup(table, { schema: strategy });
      expect((await run('one.csv', 'id,name\n1,ann\n')).status).toBe('loaded');
      const second = await run('two.csv', 'id,name,Extra Field\n2,bob,x\n');
      const columns = (
        await rows(
          `SELECT column_name FROM information_schema.columns WHERE table_name = '${table}' ORDER BY ordinal_position`,
        )
      ).map((r) => r.column_name);
      if (strategy === 'evolve') {
        expect(second.status).toBe('loaded');
        expect(columns).toEqual(['dataset_id', 'id', 'name', 'extra_field']);
        expect(await rows(`SELECT id, extra_field FROM ${table} ORDER BY id`)).toEqual([
          { id: 1, extra_field: null },
          { id: 2, extra_field: 'x' },
        ]);
      } else if (strategy === 'ignore_new') {
        expect(second.status).toBe('loaded');
        expect(columns).toEqual(['dataset_id', 'id', 'name']);
        const [latest] = await listDatasets(db, { rule: table });
        expect(latest!.column_map).toEqual([
          { header: 'id', column: 'id' },
          { header: 'name', column: 'name' },
          { header: 'Extra Field', column: null },
        ]);
      } else {
        expect(second).toMatchObject({ status: 'rejected', datasetStatus: 'failed' });
        expect(second.reason).toMatch(/do not match table new_col_strict: missing none; new "extra_field"/);
        expect(await ls(path.join(inbox, 'rejected'))).toEqual(['two.csv']);
        const [failed] = await listDatasets(db, { rule: table });
        expect(failed).toMatchObject({ status: 'failed', file_name: 'two.csv', error: second.reason });
        expect(failed!.file_id).not.toBeNull();
        expect(columns).toEqual(['dataset_id', 'id', 'name']);
      }
    }
  });

  it('widens integer → numeric → text across imports of workbooks', async () => {
    const { inbox, run } = await setup('widen', { fileType: 'xlsx' });
    await writeXlsx(path.join(inbox, 'a.xlsx'), [['code'], [1], [2]]);
    await writeXlsx(path.join(inbox, 'b.xlsx'), [['code'], [2.5]]);
    await writeXlsx(path.join(inbox, 'c.xlsx'), [['code'], ['X-9']]);
    const type = async () =>
      (
        await rows(
          `SELECT data_type FROM information_schema.columns WHERE table_name = 'widen' AND column_name = 'code'`,
        )
      )[0]!.data_type;
    expect((await run('a.xlsx')).status).toBe('loaded');
    expect(await type()).toBe('integer');
    expect((await run('b.xlsx')).status).toBe('loaded');
    expect(await type()).toBe('numeric');
    expect((await run('c.xlsx')).status).toBe('loaded');
    expect(await type()).toBe('text');
    expect((await rows('SELECT code FROM widen ORDER BY dataset_id, code')).map((r) => r.code)).toEqual([
      '1',
      '2',
      '2.5',
      'X-9',
    ]);
  });

  it('hostile headers (quotes, ;, SQL keywords, 200 characters, duplicates, empty) load safely', async () => {
    const { inbox, run } = await setup('hostile', { fileType: 'xlsx' });
    const long = 'L'.repeat(200);
    const headers = [
      'a"b',
      'x; DROP TABLE sales; --',
      'select',
      'from',
      long,
      'Dup',
      'dup',
      '',
      'dataset_id',
      'Ünïcødé €',
    ];
    await writeXlsx(path.join(inbox, 'h.xlsx'), [headers, headers.map((_, i) => `v${i}`)]);
    const result = await run('h.xlsx');
    expect(result.status).toBe('loaded');
    const [dataset] = await listDatasets(db, { rule: 'hostile' });
    const columns = dataset!.column_map.map((m) => m.column);
    expect(columns).toEqual([
      'ab',
      'x_drop_table_sales',
      'select',
      'from',
      'l'.repeat(63),
      'dup',
      'dup_2',
      'column_8',
      'dataset_id_2',
      'unicde', // NFKD takes the accents off; ø has none to take
    ]);
    // The sheet parser names an empty header after its position.
    expect(dataset!.column_map.map((m) => m.header)).toEqual(headers.map((h, i) => h || `column_${i + 1}`));
    const loaded = (await rows('SELECT * FROM hostile'))[0]!;
    expect(loaded).toMatchObject({
      select: 'v2',
      from: 'v3',
      dup_2: 'v6',
      dataset_id_2: 'v8',
      dataset_id: result.datasetId,
    });
    expect(await rows(`SELECT count(*)::int AS n FROM sales`)).toEqual([{ n: 2 }]);
  });

  it('imports an .xls with the dataset date from a cell, and an .xlsx with it from a column', async () => {
    const { inbox, run } = await setup('legacy', {
      fileType: 'xls',
      parser: { headerRow: 3 },
      datasetDate: { from: 'cell', cell: 'B1', format: 'dd/MM/yyyy' },
    });
    await writeXls(path.join(inbox, 'old.xls'), [
      ['Report of', '31/01/2024'],
      [],
      ['sku', 'units'],
      ['A1', 3],
      ['B2', 4],
    ]);
    expect(await run('old.xls')).toMatchObject({ status: 'loaded', date: '2024-01-31', rowsLoaded: 2 });
    expect(await rows('SELECT sku, units FROM legacy ORDER BY sku')).toEqual([
      { sku: 'A1', units: 3 },
      { sku: 'B2', units: 4 },
    ]);

    const byColumn = await setup('by_column', {
      fileType: 'xlsx',
      datasetDate: { from: 'column', column: 'Report Date' },
    });
    await writeXlsx(path.join(byColumn.inbox, 'r.xlsx'), [
      ['Report Date', 'n'],
      [new Date(Date.UTC(2024, 2, 15)), 1],
      [new Date(Date.UTC(2024, 2, 15)), 2],
    ]);
    expect(await byColumn.run('r.xlsx')).toMatchObject({ status: 'loaded', date: '2024-03-15' });
    expect((await listDatasets(db, { rule: 'by_column' }))[0]).toMatchObject({
      date: '2024-03-15',
      status: 'active',
    });

    // A file name without the date part is rejected, saying why.
    const named = await setup('named', {
      datasetDate: { from: 'filename', delimiter: '_', token: 2, format: 'yyyyMMdd' },
    });
    const bad = await named.run('named.csv', 'a\n1\n');
    expect(bad).toMatchObject({ status: 'rejected', datasetStatus: 'failed' });
    expect(bad.reason).toMatch(/1 parts split on "_", no part 2/);
    expect(await ls(path.join(named.inbox, 'rejected'))).toEqual(['named.csv']);
  });
});

// The same datasets from a pipeline file: `dataset:` is a section any pipeline can have.
describe('a pipeline with a dataset section', () => {
  let testDb: TestDatabase;
  let home: string;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    home = await tempDir();
  });
  afterAll(async () => {
    await testDb.drop();
  });

  it('makes each file a dataset labelled from its name, dated from it, its rows carrying its id', async () => {
    const dir = await tempDir('sluice-dataset-pipeline-');
    const inbox = path.join(dir, 'inbox');
    await mkdir(inbox, { recursive: true });
    await writeFile(path.join(inbox, 'north_20260105.csv'), 'sku,qty\na,1\nb,2\n');
    await writeFile(path.join(inbox, 'south_20260105.csv'), 'sku,qty\nc,3\n');
    const pipeline = path.join(dir, 'stock.yaml');
    const yaml = (extra: string) =>
      [
        'name: stock',
        'source:',
        '  url: inbox',
        '  glob: "*.csv"',
        '  stableFor: 0s',
        'parse:',
        '  type: csv',
        'load:',
        '  type: postgres',
        '  table: stock',
        '  schema: evolve',
        'dataset:',
        '  label: "stock-{region}"',
        "  match: '^(?<region>[a-z]+)_'",
        '  date: { from: filename, delimiter: _, token: 2, format: yyyyMMdd }',
        extra,
      ].join('\n') + '\n';
    await writeFile(pipeline, yaml(''));
    const env = { DATABASE_URL: testDb.url, SLUICE_HOME: home };
    const first = await runCli(['run', pipeline], env);
    expect(first.code, first.stderr).toBe(0);
    const db = await openStore({ databaseUrl: testDb.url, home });
    try {
      const datasets = await listDatasets(db, { rule: 'stock' });
      expect(
        datasets.map((d) => ({ label: d.label, date: d.date, status: d.status, rows: d.row_count })),
      ).toEqual([
        { label: 'stock-south', date: '2026-01-05', status: 'active', rows: 1 },
        { label: 'stock-north', date: '2026-01-05', status: 'active', rows: 2 },
      ]);
      const rows = await db.query<{ sku: string; dataset_id: string }>(
        'SELECT sku, dataset_id::text FROM stock ORDER BY sku',
      );
      expect(rows.rows.map((r) => r.dataset_id)).toEqual([datasets[1]!.id, datasets[1]!.id, datasets[0]!.id]);
    } finally {
      await db.close();
    }
  });

  it('is refused with a loader that does not keep datasets', async () => {
    const dir = await tempDir('sluice-dataset-mysql-');
    const pipeline = path.join(dir, 'p.yaml');
    await writeFile(
      pipeline,
      'name: p\nsource: { url: ., glob: "*.csv" }\nparse: { type: csv }\nload: { type: mysql, url: "mysql://root@127.0.0.1/x", table: t }\ndataset: { label: x }\n',
    );
    const result = await runCli(['validate', pipeline]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/dataset: the mysql loader does not keep datasets/);
  });
});
