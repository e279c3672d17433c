import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import { runPipelineFile } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

let store: TestStore;
let db: Database;
let home: string;

beforeEach(async () => {
  store = await createTestStore();
  ({ db, home } = store);
});

afterEach(async () => {
  await store?.close();
});

describe('an .xlsx through a whole pipeline into PostgreSQL', () => {
  it('loads the checked rows with real dates, and rejects the bad ones', async () => {
    const inbox = path.join(home, 'inbox');
    await mkdir(inbox, { recursive: true });
    const wb = new ExcelJS.Workbook();
    wb.properties.date1904 = true;
    const ws = wb.addWorksheet('Visits');
    ws.addRow(['Visits export']);
    ws.addRow(['email', 'visits', 'day']);
    ws.addRow(['ana@example.com', 3, new Date(Date.UTC(2024, 1, 29))]);
    ws.addRow([]);
    ws.addRow(['luis@example.com', { formula: '1+1', result: 2 }, new Date(Date.UTC(2024, 2, 1))]);
    ws.addRow(['bad', -1, new Date(Date.UTC(2024, 2, 2))]);
    for (const r of [3, 5, 6]) ws.getCell(`C${r}`).numFmt = 'yyyy-mm-dd';
    await wb.xlsx.writeFile(path.join(inbox, 'visits.xlsx'));
    const pipeline = path.join(home, 'pipeline.yaml');
    await writeFile(
      pipeline,
      [
        'name: xlsx_visits',
        `source: { url: ${JSON.stringify(inbox)}, glob: '*.xlsx' }`,
        'parse: { type: xlsx, sheet: Visits, headerRow: 2 }',
        'check:',
        '  columns:',
        '    email: { required: true, email: true }',
        '    visits: { integer: { min: 0 } }',
        "    day: { datetime: 'yyyy-MM-dd' }",
        'load: { type: postgres, table: t }',
        '',
      ].join('\n'),
    );
    const summary = await runPipelineFile(db, pipeline, { env: {}, home, asOf: '2024-03-05' });
    expect(summary.status).toBe('succeeded');
    expect(summary).toMatchObject({ filesLoaded: 1, rowsLoaded: 2, rowsRejected: 1 });
    const rows = (
      await db.query<Record<string, unknown>>(
        'SELECT email, visits::int AS visits, day::text AS day FROM t ORDER BY email',
      )
    ).rows;
    expect(rows).toEqual([
      { email: 'ana@example.com', visits: 3, day: '2024-02-29' },
      { email: 'luis@example.com', visits: 2, day: '2024-03-01' },
    ]);
  });
});
