import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchResult, PluginContext } from '../../../../src/core/plugin.js';
import { seriesSheetParser } from '../../../../src/plugins/parsers/series-sheet-parser.js';
import { writeXls, writeXlsx, type CellValue } from '../../../helpers/workbooks.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-series-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const day = (d: string) => new Date(`${d}T00:00:00Z`);
// A wide sheet as a bank publishes it: title, blank, header (row 3), units (row 4), data, blank, a note.
const SHEET: CellValue[][] = [
  ['Series diarias'],
  [null],
  ['Fecha', 'Reservas', 'Tipo de cambio'],
  [null, 'millones de USD', '$ por USD'],
  [day('2025-12-31'), '41.234,5', '1.045,5'],
  [day('2026-01-01'), '41.240,25', null],
  [day('2026-01-02'), 41250.75, '1.046'],
  [null],
  ['Nota: datos provisorios'],
];

const options = seriesSheetParser.options.parse({
  series: [
    {
      code: 'RES',
      sheet: 'Datos',
      headerRow: 3,
      skipRows: 1,
      dateColumn: 'A',
      valueColumn: 'B',
      unit: 'MUSD',
      frequency: 'daily',
    },
    { code: 'TC', sheet: 'Datos', headerRow: 3, skipRows: 1, dateColumn: 'A', valueColumn: 'C' },
  ],
});

async function parse(file: string, state: Record<string, string> = {}) {
  const context: PluginContext = {
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    workDir: dir,
    state: { get: async <T>(key: string) => state[key] as T | undefined },
  };
  const results: BatchResult[] = [];
  for await (const r of seriesSheetParser.parse(
    { stream: createReadStream(file), origin: path.basename(file) },
    options,
    context,
  ))
    results.push(r);
  return {
    rows: results.flatMap((r) => r.batch.rows.map((row) => row.slice(0, 5))),
    state: Object.assign({}, ...results.map((r) => r.state ?? {})) as Record<string, string>,
    rejects: results.flatMap((r) => r.rejects),
  };
}

describe('seriesSheet', () => {
  it('turns each series of the map into long rows, up to the first row without a date', async () => {
    for (const [name, write] of [
      ['book.xlsx', writeXlsx],
      ['book.xls', writeXls],
    ] as const) {
      const file = path.join(dir, name);
      await write(file, SHEET, { sheet: 'Datos' });
      const out = await parse(file);
      expect(out.rows, name).toEqual([
        ['2025-12-31 00:00:00', 'RES', '41.234,5', 'MUSD', 'daily'],
        ['2026-01-01 00:00:00', 'RES', '41.240,25', 'MUSD', 'daily'],
        ['2026-01-02 00:00:00', 'RES', '41250.75', 'MUSD', 'daily'],
        ['2025-12-31 00:00:00', 'TC', '1.045,5', null, null],
        ['2026-01-01 00:00:00', 'TC', null, null, null],
        ['2026-01-02 00:00:00', 'TC', '1.046', null, null],
      ]);
      expect(out.rejects, name).toEqual([]);
      expect(out.state, name).toEqual({
        'series:RES': '2026-01-02 00:00:00',
        'series:TC': '2026-01-02 00:00:00',
      });
    }
  });

  it("passes only observations newer than a series' committed mark", async () => {
    const file = path.join(dir, 'again.xlsx');
    await writeXlsx(file, SHEET, { sheet: 'Datos' });
    const out = await parse(file, {
      'series:RES': '2026-01-01 00:00:00',
      'series:TC': '2026-01-02 00:00:00',
    });
    expect(out.rows.map((r) => [r[0], r[1]])).toEqual([['2026-01-02 00:00:00', 'RES']]);
    expect(out.state).toEqual({ 'series:RES': '2026-01-02 00:00:00' });
  });
});
