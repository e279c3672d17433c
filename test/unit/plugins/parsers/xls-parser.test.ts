import { Readable } from 'node:stream';
import * as XLSX from '@e965/xlsx';
import { describe, expect, it, vi } from 'vitest';
import { SluiceError } from '../../../../src/core/errors.js';
import type { BatchResult, PluginContext } from '../../../../src/core/plugin.js';
import { xlsParser } from '../../../../src/plugins/parsers/xls-parser.js';

const context: PluginContext = {
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir: '/tmp',
};

type Cell = XLSX.CellObject | string | number | boolean | null;

/** A BIFF8 workbook; a cell given as an object is written as is (formulas, formats, errors). */
function book(sheets: Record<string, Cell[][]>, date1904 = false): Buffer {
  const wb = XLSX.utils.book_new();
  for (const [name, rows] of Object.entries(sheets)) {
    const ws: XLSX.WorkSheet = {};
    let maxR = 0;
    let maxC = 0;
    rows.forEach((row, r) =>
      row.forEach((value, c) => {
        if (value === null) return;
        const cell: XLSX.CellObject =
          typeof value === 'object'
            ? value
            : typeof value === 'string'
              ? { t: 's', v: value }
              : typeof value === 'number'
                ? { t: 'n', v: value }
                : { t: 'b', v: value };
        ws[XLSX.utils.encode_cell({ r, c })] = cell;
        maxR = Math.max(maxR, r);
        maxC = Math.max(maxC, c);
      }),
    );
    ws['!ref'] = XLSX.utils.encode_range({ s: { r: 0, c: 0 }, e: { r: maxR, c: maxC } });
    XLSX.utils.book_append_sheet(wb, ws, name);
  }
  if (date1904) wb.Workbook = { ...wb.Workbook, WBProps: { date1904: true } };
  return XLSX.write(wb, { bookType: 'biff8', type: 'buffer' }) as Buffer;
}

async function parse(bytes: Buffer, options: Record<string, unknown> = {}): Promise<BatchResult[]> {
  const results: BatchResult[] = [];
  const stream = Readable.from([bytes]);
  for await (const r of xlsParser.parse(
    { stream, origin: 'f.xls' },
    xlsParser.options.parse(options),
    context,
  ))
    results.push(r);
  return results;
}

async function parseAll(bytes: Buffer, options: Record<string, unknown> = {}) {
  const results = await parse(bytes, options);
  return {
    columns: results[0]?.batch.columns.map((c) => c.name),
    rows: results.flatMap((r) => r.batch.rows),
    lines: results.flatMap((r) => r.batch.lines),
    rejects: results.flatMap((r) => r.rejects),
  };
}

async function failure(bytes: Buffer, options: Record<string, unknown> = {}): Promise<SluiceError> {
  try {
    await parse(bytes, options);
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    return error as SluiceError;
  }
  throw new Error('expected the parse to fail');
}

/** Serial of a date in the 1900 system (days since 1899-12-30). */
const serial1900 = (iso: string) => Date.parse(`${iso}Z`) / 86_400_000 + 25569;

describe('xls parser', () => {
  it('reads a header and rows of every cell kind as text', async () => {
    const bytes = book({
      Data: [
        ['name', 'n', 'flag', 'err', 'formula'],
        ['ana', 1.5, true, { t: 'e', v: 0x2a }, { t: 'n', v: 3, f: 'B2*2' }],
        ['luis', 1e21, false, null, { t: 's', v: 'luisx', f: 'A3&"x"' }],
      ],
    });
    const out = await parseAll(bytes);
    expect(out.columns).toEqual(['name', 'n', 'flag', 'err', 'formula']);
    expect(out.rows).toEqual([
      ['ana', '1.5', 'true', '#N/A', '3'],
      ['luis', '1000000000000000000000', 'false', null, 'luisx'],
    ]);
    expect(out.lines).toEqual([2, 3]);
  });

  for (const date1904 of [false, true]) {
    it(`turns serial dates into dates in the ${date1904 ? '1904' : '1900'} date system`, async () => {
      const shift = date1904 ? 1462 : 0;
      const date = (iso: string, z: string): XLSX.CellObject => ({ t: 'n', v: serial1900(iso) - shift, z });
      const bytes = book(
        {
          S: [
            ['day', 'at'],
            [date('2024-02-29T00:00:00', 'yyyy-mm-dd'), date('2024-02-29T13:05:01', 'yyyy-mm-dd hh:mm:ss')],
            // 00:00:01 as a binary fraction of a day reads back a hair early: it must round to the second.
            [
              date('1999-12-31T00:00:00', 'd/m/yy'),
              {
                t: 'n',
                v: serial1900('2000-01-01T00:00:00') - shift + 1 / 86400 - 1e-11,
                z: 'yyyy-mm-dd hh:mm:ss',
              },
            ],
          ],
        },
        date1904,
      );
      const out = await parseAll(bytes);
      expect(out.rows).toEqual([
        ['2024-02-29', '2024-02-29 13:05:01'],
        ['1999-12-31', '2000-01-01 00:00:01'],
      ]);
    });
  }

  it('picks a sheet by name or by position, and names the sheets when one is missing', async () => {
    const bytes = book({ First: [['a'], ['1']], Second: [['b'], ['2']] });
    expect((await parseAll(bytes)).rows).toEqual([['1']]);
    expect((await parseAll(bytes, { sheet: 'Second' })).rows).toEqual([['2']]);
    expect((await parseAll(bytes, { sheet: 2 })).rows).toEqual([['2']]);
    const error = await failure(bytes, { sheet: 'Third' });
    expect(error.code).toBe('LAYOUT_MISMATCH');
    expect(error.message).toContain('"First", "Second"');
  });

  it('takes the header from headerRow, skips rows after it, and reads a column range', async () => {
    const bytes = book({
      S: [
        ['Report of visits'],
        [],
        ['id', 'x', 'name', 'score', 'note'],
        [null, null, 'text', 'points'],
        [1, 'x', 'ana', 10, 'left out'],
        [2, 'x', 'luis', 20],
      ],
    });
    const out = await parseAll(bytes, { headerRow: 3, skipRows: 1, columns: 'C:D' });
    expect(out.columns).toEqual(['name', 'score']);
    expect(out.rows).toEqual([
      ['ana', '10'],
      ['luis', '20'],
    ]);
    expect(out.lines).toEqual([5, 6]);
  });

  it('ignores trailing blank rows and columns, skips a blank middle row, rejects a row too wide', async () => {
    const bytes = book({
      S: [['a', 'b', null, ''], [1, 2, ''], [], [3], [4, 5, 6], [null], ['', '']],
    });
    const out = await parseAll(bytes);
    expect(out.columns).toEqual(['a', 'b']);
    expect(out.rows).toEqual([
      ['1', '2'],
      ['3', null],
    ]);
    expect(out.lines).toEqual([2, 4]);
    expect(out.rejects).toMatchObject([{ line: 5, rule: 'fieldCount', raw: '4,5,6', origin: 'f.xls' }]);
  });

  it('checks the header against expectHeader, with an any column', async () => {
    const bytes = book({
      S: [
        ['Email', 'Whatever 2026'],
        ['a@x', 'q'],
      ],
    });
    const out = await parseAll(bytes, { expectHeader: ['email', { name: 'period', any: true }] });
    expect(out.columns).toEqual(['email', 'period']);
    expect(out.rows).toEqual([['a@x', 'q']]);
    const error = await failure(bytes, { expectHeader: ['email', 'period'] });
    expect(error.code).toBe('LAYOUT_MISMATCH');
    expect(error.where).toBe('f.xls:1');
  });

  it('gives one empty batch for a sheet with a header only', async () => {
    const results = await parse(book({ S: [['a', 'b']] }));
    expect(results).toHaveLength(1);
    expect(results[0]!.batch.rows).toEqual([]);
    expect(results[0]!.batch.columns.map((c) => c.name)).toEqual(['a', 'b']);
  });

  it('fails with PARSE_FAILED on a file that is not a workbook, or one larger than maxBytes', async () => {
    for (const bytes of [
      Buffer.from('a,b\n1,2\n'),
      Buffer.alloc(0),
      Buffer.from('\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1garbage', 'latin1'),
    ]) {
      const error = await failure(bytes);
      expect(error.code).toBe('PARSE_FAILED');
      expect(error.message).toContain('f.xls');
    }
    const big = await failure(book({ S: [['a'], ['1']] }), { maxBytes: 1000 });
    expect(big.code).toBe('PARSE_FAILED');
    expect(big.message).toContain('maxBytes');
  });
});

describe('xls parser on damaged files', () => {
  it('fails with a SluiceError or reads on, for every cut and damaged byte; SheetJS prints nothing', async () => {
    const rows: Cell[][] = [['id', 'name']];
    for (let i = 0; i < 200; i++) rows.push([i, `name ${i}`]);
    const whole = book({ S: rows });
    const printed = vi.spyOn(console, 'error');
    const warnings: string[] = [];
    const logged: PluginContext = {
      ...context,
      logger: { ...context.logger, warn: (m) => warnings.push(m) },
    };
    const outcomes = new Set<string>();
    const step = Math.floor(whole.length / 150);
    const variants: Buffer[] = [];
    for (let at = 0; at < whole.length; at += step) {
      variants.push(whole.subarray(0, at));
      const flipped = Buffer.from(whole);
      flipped[at] = flipped[at]! ^ 0x5a;
      variants.push(flipped);
    }
    try {
      for (const bytes of variants) {
        try {
          for await (const _ of xlsParser.parse(
            { stream: Readable.from([bytes]), origin: 'f.xls' },
            xlsParser.options.parse({}),
            logged,
          ));
          outcomes.add('read');
        } catch (error) {
          expect(error).toBeInstanceOf(SluiceError);
          const { code, message } = error as SluiceError;
          expect(['PARSE_FAILED', 'LAYOUT_MISMATCH', 'FILE_EMPTY']).toContain(code);
          if (code === 'PARSE_FAILED') expect(message).toContain('f.xls');
          outcomes.add(code);
        }
      }
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
    expect(outcomes).toContain('PARSE_FAILED');
    expect(warnings.every((w) => /^f\.xls has \d+ records the xls reader does not know/.test(w))).toBe(true);
  });
});
