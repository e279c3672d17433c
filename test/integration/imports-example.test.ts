import { cp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImportRulesYaml } from '../../src/core/import-rule-spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { watchOnce } from '../../src/runner/watch-imports.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { listDatasets } from '../../src/store/datasets.js';
import { saveImportRules } from '../../src/store/import-rules.js';
import { REPO, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const EXAMPLE = path.join(REPO, 'examples/imports');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

// examples/imports as shipped: its rules over its sample inbox.
describe('the imports example', () => {
  let testDb: TestDatabase;
  let db: Database;
  let root: string;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    root = await tempDir();
    db = await openStore({ databaseUrl: testDb.url, home: path.join(root, 'home') });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it('imports the CSV, XLSX and XLS samples into datasets, the second Acme file replacing the first', async () => {
    const registry = createRegistry();
    const file = path.join(EXAMPLE, 'rules.yaml');
    const rules = parseImportRulesYaml(await readFile(file, 'utf8'), {
      file,
      env: { IMPORTS_ROOT: root },
      registry,
    });
    await saveImportRules(db, rules, 'insert');
    await cp(path.join(EXAMPLE, 'inbox'), path.join(root, 'inbox'), { recursive: true });

    const results = await watchOnce({
      db,
      registry,
      home: path.join(root, 'home'),
      logger: quiet,
      stabilityMs: 50,
    });
    expect(
      results.map((r) => [path.basename(r.file), r.kind === 'imported' ? r.result.status : r.kind]),
    ).toEqual([
      ['clients_acme_20240131.csv', 'loaded'],
      ['clients_acme_20240131_v2.csv', 'loaded'],
      ['globex_stock_2024-01.xlsx', 'loaded'],
      ['initech_visits.xls', 'loaded'],
      ['note-from-client.txt', 'unmatched'],
    ]);

    const datasets = await listDatasets(db);
    expect(datasets.map((d) => [d.rule, d.label, d.date, d.status, d.row_count])).toEqual([
      ['initech-visits', 'initech-visits', '2024-01-30', 'active', 2],
      ['globex-stock', 'globex-stock', '2024-01-31', 'active', 3],
      ['acme-sales', 'acme-sales', '2024-01-31', 'active', 4],
      ['acme-sales', 'acme-sales', '2024-01-31', 'inactive', 3],
    ]);
    expect(datasets[2]!.column_map).toEqual([
      { header: 'Fecha', column: 'fecha' },
      { header: 'Cliente', column: 'cliente' },
      { header: 'Importe EUR', column: 'importe_eur' },
      { header: 'Unidades', column: 'unidades' },
      { header: 'Canal', column: 'canal' },
    ]);

    // Today's Acme sales: the rows of the active dataset only; the v2 file added a column (evolve).
    const { rows: acme } = await db.query(
      `SELECT cliente, importe_eur, canal FROM imports.acme_sales
        WHERE dataset_id IN (SELECT id FROM sluice.datasets WHERE status = 'active') ORDER BY cliente`,
    );
    expect(acme).toEqual([
      { cliente: 'Bolt Ltd', importe_eur: '120.50', canal: 'web' },
      { cliente: 'Gear GmbH', importe_eur: '300', canal: 'shop' },
      { cliente: 'Nut & Co', importe_eur: '95', canal: 'shop' },
      { cliente: 'Washer SA', importe_eur: '15.25', canal: 'web' },
    ]);
    const { rows: stock } = await db.query(
      'SELECT sku, on_hand, unit_cost FROM imports.globex_stock ORDER BY sku',
    );
    expect(stock).toEqual([
      { sku: 'GX-100', on_hand: 1200, unit_cost: '0.12' },
      { sku: 'GX-101', on_hand: 3400, unit_cost: '0.05' },
      { sku: 'GX-200', on_hand: 5000, unit_cost: '0.01' },
    ]);
    const { rows: visits } = await db.query(
      `SELECT visit_date::text, visitor, minutes FROM imports.initech_visits ORDER BY visitor`,
    );
    expect(visits).toEqual([
      { visit_date: '2024-01-30', visitor: 'Ana García', minutes: 45 },
      { visit_date: '2024-01-30', visitor: 'Luis Pérez', minutes: 30 },
    ]);

    expect((await readdir(path.join(root, 'inbox'))).sort()).toEqual(['unmatched']);
    expect(await readdir(path.join(root, 'inbox', 'unmatched'))).toEqual(['note-from-client.txt']);
    expect((await readdir(path.join(root, 'archive', 'acme'))).sort()).toEqual([
      'clients_acme_20240131.csv',
      'clients_acme_20240131_v2.csv',
    ]);
    expect(await readdir(path.join(root, 'archive', 'globex'))).toEqual(['globex_stock_2024-01.xlsx']);
    expect(await readdir(path.join(root, 'archive', 'initech'))).toEqual(['initech_visits.xls']);
  });
});
