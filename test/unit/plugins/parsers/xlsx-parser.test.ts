import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import yazl from 'yazl';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../src/core/errors.js';
import type { BatchResult, PluginContext } from '../../../../src/core/plugin.js';
import { xlsxParser } from '../../../../src/plugins/parsers/xlsx-parser.js';

const context: PluginContext = {
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir: '/tmp',
};

type Cell = ExcelJS.CellValue;

async function book(
  sheets: Record<string, Cell[][]>,
  setup?: (wb: ExcelJS.Workbook) => void,
): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  setup?.(wb);
  for (const [name, rows] of Object.entries(sheets)) {
    const ws = wb.addWorksheet(name);
    rows.forEach((row, r) => {
      row.forEach((value, c) => {
        if (value !== null && value !== undefined) ws.getRow(r + 1).getCell(c + 1).value = value;
      });
    });
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}

async function parse(bytes: Buffer, options: Record<string, unknown> = {}): Promise<BatchResult[]> {
  const results: BatchResult[] = [];
  const stream = Readable.from([bytes]);
  for await (const r of xlsxParser.parse(
    { stream, origin: 'f.xlsx' },
    xlsxParser.options.parse(options),
    context,
  ))
    results.push(r);
  return results;
}

async function parseAll(bytes: Buffer, options: Record<string, unknown> = {}) {
  const results = await parse(bytes, options);
  return {
    batches: results.length,
    columns: results[0]?.batch.columns.map((c) => c.name),
    rows: results.flatMap((r) => r.batch.rows),
    lines: results.flatMap((r) => r.batch.lines),
    raw: results.flatMap((r) => r.batch.raw ?? []),
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

const utc = (...a: [number, number, number, number?, number?, number?]) =>
  new Date(Date.UTC(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0, a[5] ?? 0));

describe('xlsx parser', () => {
  it('reads a header and rows of every cell kind as text', async () => {
    const bytes = await book({
      Data: [
        ['name', 'n', 'big', 'flag', 'rich', 'err'],
        [
          'ana',
          1.5,
          2 ** 70,
          true,
          { richText: [{ text: 'Hi ' }, { text: 'there', font: { bold: true } }] },
          { error: '#N/A' },
        ],
        ['luis', 2, -3, false, 'plain', null],
      ],
    });
    const out = await parseAll(bytes);
    expect(out.columns).toEqual(['name', 'n', 'big', 'flag', 'rich', 'err']);
    expect(out.rows).toEqual([
      ['ana', '1.5', '1180591620717411303424', 'true', 'Hi there', '#N/A'],
      ['luis', '2', '-3', 'false', 'plain', null],
    ]);
    expect(out.lines).toEqual([2, 3]);
    expect(out.raw[1]).toBe('luis,2,-3,false,plain');
  });

  it('gives the cached values of formulas, dates included', async () => {
    const bytes = await book({ S: [['a', 'double', 'text', 'next day']] }, () => {});
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
    const ws = wb.getWorksheet('S')!;
    ws.getCell('A2').value = 21;
    ws.getCell('B2').value = { formula: 'A2*2', result: 42 };
    ws.getCell('C2').value = { formula: 'A2&"x"', result: '21x' };
    ws.getCell('D2').value = { formula: 'DATE(2024,1,2)+1', result: utc(2024, 1, 3) };
    ws.getCell('D2').numFmt = 'yyyy-mm-dd';
    const out = await parseAll(Buffer.from(await wb.xlsx.writeBuffer()));
    expect(out.rows).toEqual([['21', '42', '21x', '2024-01-03']]);
  });

  for (const date1904 of [false, true]) {
    it(`turns serial dates into dates in the ${date1904 ? '1904' : '1900'} date system`, async () => {
      const bytes = await book(
        {
          S: [
            ['day', 'at'],
            [utc(2024, 2, 29), utc(2024, 2, 29, 13, 5, 1)],
            [utc(1999, 12, 31), utc(2000, 1, 1, 0, 0, 1)],
          ],
        },
        (wb) => {
          wb.properties.date1904 = date1904;
        },
      );
      const out = await parseAll(bytes);
      expect(out.rows).toEqual([
        ['2024-02-29', '2024-02-29 13:05:01'],
        ['1999-12-31', '2000-01-01 00:00:01'],
      ]);
    });
  }

  it('picks a sheet by name or by position, and names the sheets when one is missing', async () => {
    const bytes = await book({ First: [['a'], ['1']], Second: [['b'], ['2']] });
    expect((await parseAll(bytes)).rows).toEqual([['1']]);
    expect((await parseAll(bytes, { sheet: 'Second' })).rows).toEqual([['2']]);
    expect((await parseAll(bytes, { sheet: 'second' })).columns).toEqual(['b']);
    expect((await parseAll(bytes, { sheet: 2 })).rows).toEqual([['2']]);
    const error = await failure(bytes, { sheet: 'Third' });
    expect(error.code).toBe('LAYOUT_MISMATCH');
    expect(error.message).toContain('"First", "Second"');
    expect((await failure(bytes, { sheet: 3 })).code).toBe('LAYOUT_MISMATCH');
  });

  it('takes the header from headerRow, skips rows after it, and reads a column range', async () => {
    const bytes = await book({
      S: [
        ['Report of visits'],
        [],
        ['id', 'x', 'name', 'score', 'note'],
        ['', '', 'text', 'points'],
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
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('S');
    ws.addRow(['a', 'b']);
    ws.addRow([1, 2]);
    ws.getCell('E1').value = ''; // a blank cell right of the header
    ws.getCell('F2').style = { font: { bold: true } }; // formatted but empty
    ws.addRow([]);
    ws.addRow([3]);
    ws.addRow([4, 5, 6]);
    ws.getCell('A9').style = { font: { bold: true } };
    ws.getRow(12).height = 30;
    const out = await parseAll(Buffer.from(await wb.xlsx.writeBuffer()));
    expect(out.columns).toEqual(['a', 'b']);
    expect(out.rows).toEqual([
      ['1', '2'],
      ['3', null],
    ]);
    expect(out.lines).toEqual([2, 4]);
    expect(out.rejects).toEqual([
      {
        origin: 'f.xlsx',
        line: 5,
        column: null,
        rule: 'fieldCount',
        value: null,
        message: 'expected 2 fields, found 3',
        raw: '4,5,6',
      },
    ]);
  });

  it('checks the header against expectHeader, with an any column', async () => {
    const bytes = await book({
      S: [
        ['Email ', 'Whatever 2026', 'Opens'],
        ['a@x', 'q', 3],
      ],
    });
    const out = await parseAll(bytes, {
      expectHeader: ['email', { name: 'period', any: true }, { name: 'opens', matches: '^open' }],
    });
    expect(out.columns).toEqual(['email', 'period', 'opens']);
    expect(out.rows).toEqual([['a@x', 'q', '3']]);
    const error = await failure(bytes, { expectHeader: ['email', 'period', 'opens'] });
    expect(error.code).toBe('LAYOUT_MISMATCH');
    expect(error.message).toContain('column 2: expected "period", found "Whatever 2026"');
    expect(error.where).toBe('f.xlsx:1');
  });

  it('gives one empty batch for a sheet with a header only, and fails on an empty sheet', async () => {
    const results = await parse(await book({ S: [['a', 'b']] }));
    expect(results).toHaveLength(1);
    expect(results[0]!.batch.columns.map((c) => c.name)).toEqual(['a', 'b']);
    expect(results[0]!.batch.rows).toEqual([]);
    expect((await failure(await book({ S: [] }))).code).toBe('FILE_EMPTY');
  });

  it('splits rows into batches of batchSize', async () => {
    const rows: Cell[][] = [['n']];
    for (let i = 1; i <= 7; i++) rows.push([i]);
    const results = await parse(await book({ S: rows }), { batchSize: 3 });
    expect(results.map((r) => r.batch.rows.length)).toEqual([3, 3, 1]);
  });

  it('fails with PARSE_FAILED naming the file when it is not a workbook', async () => {
    for (const bytes of [Buffer.from('a,b\n1,2\n'), Buffer.alloc(0)]) {
      const error = await failure(bytes);
      expect(error.code).toBe('PARSE_FAILED');
      expect(error.message).toContain('f.xlsx');
    }
    const whole = await book({ S: [['a'], [1]] });
    const cut = await failure(whole.subarray(0, Math.floor(whole.length / 2)));
    expect(cut.code).toBe('PARSE_FAILED');
  });
});

describe('xlsx parser on damaged and unusual files', () => {
  /** An .xlsx written part by part, for XML that no library writes. */
  async function rawBook(parts: Record<string, string>): Promise<Buffer> {
    const zip = new yazl.ZipFile();
    for (const [name, text] of Object.entries(parts)) zip.addBuffer(Buffer.from(text, 'utf8'), name);
    zip.end();
    const chunks: Buffer[] = [];
    for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  const RELS =
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">';
  const base = (sheet: string, extra: Record<string, string> = {}) => ({
    '[Content_Types].xml': '<?xml version="1.0"?><Types/>',
    '_rels/.rels': `${RELS}<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    'xl/workbook.xml':
      '<?xml version="1.0"?><x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><x:workbookPr date1904="1"/><x:sheets><x:sheet name="Data" sheetId="1" r:id="rId7"/></x:sheets></x:workbook>',
    'xl/_rels/workbook.xml.rels': `${RELS}<Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/data.xml"/><Relationship Id="rId8" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="strings.xml"/><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`,
    'xl/strings.xml':
      '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>name</t></si><si><r><t xml:space="preserve">Ana </t></r><r><rPr><b/></rPr><t>María</t></r><rPh><t>アナ</t></rPh></si><si><t>line_x000D_break</t></si></sst>',
    'xl/styles.xml':
      '<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs><cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/><xf numFmtId="10"/></cellXfs></styleSheet>',
    'xl/worksheets/data.xml': sheet,
    ...extra,
  });
  const sheetXml = (rows: string) =>
    `<?xml version="1.0"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>${rows}</x:sheetData></x:worksheet>`;

  it('reads cells by their type: shared, inline and formula strings, booleans, errors, dates, styles', async () => {
    const bytes = await rawBook(
      base(
        sheetXml(
          '<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c t="inlineStr"><x:is><x:t>b</x:t></x:is></x:c><x:c><x:v>3</x:v></x:c><x:c><x:v>4</x:v></x:c><x:c><x:v>5</x:v></x:c><x:c><x:v>6</x:v></x:c></x:row>' +
            '<x:row r="3"><x:c r="A3" t="s"><x:v>1</x:v></x:c><x:c r="B3" t="b"><x:f>1=1</x:f><x:v>1</x:v></x:c><x:c r="C3" t="e"><x:f>NA()</x:f><x:v>#N/A</x:v></x:c><x:c r="D3" s="1"><x:v>0</x:v></x:c><x:c r="E3" s="2"><x:v>1.5</x:v></x:c><x:c r="F3" s="3"><x:v>0.25</x:v></x:c></x:row>' +
            '<x:row><x:c t="s"><x:v>2</x:v></x:c><x:c t="str"><x:f>"x"&amp;"y"</x:f><x:v>x&amp;y</x:v></x:c><x:c t="d"><x:v>2024-02-29T13:05:01</x:v></x:c><x:c t="b"><x:v>0</x:v></x:c><x:c t="e"/></x:row>',
        ),
      ),
    );
    const out = await parseAll(bytes);
    expect(out.columns).toEqual(['name', 'b', '3', '4', '5', '6']);
    expect(out.rows).toEqual([
      ['Ana María', 'true', '#N/A', '1904-01-01', '1904-01-02 12:00:00', '0.25'],
      ['line\rbreak', 'x&y', '2024-02-29 13:05:01', 'false', null, null],
    ]);
    expect(out.lines).toEqual([3, 4]);
  });

  it('fails with PARSE_FAILED naming the file on every kind of damage, never with another error', async () => {
    const whole = await book({ S: [['a', 'b'], ...Array.from({ length: 200 }, (_, i) => [i, `row ${i}`])] });
    const cases: [string, Buffer, string][] = [
      ['empty', Buffer.alloc(0), 'the file is empty'],
      ['text', Buffer.from('id,name\n1,ana\n'), 'not a zip file'],
      [
        'legacy',
        Buffer.from('d0cf11e0a1b11ae1' + '00'.repeat(504), 'hex'),
        'legacy .xls or a password-protected',
      ],
      ['no workbook', await rawBook({ 'word/document.xml': '<w/>' }), 'no workbook part'],
      [
        'bad xml',
        await rawBook(base(sheetXml('<x:row r="1"><x:c><x:v>1</x:v></x:row>'))),
        'sheet "Data" cannot be read',
      ],
    ];
    for (let cut = 100; cut < whole.length; cut += Math.floor(whole.length / 12)) {
      cases.push([`cut at ${cut}`, whole.subarray(0, cut), 'not a readable xlsx workbook']);
    }
    // A damaged byte inside the sheet's compressed data: the CRC-32 of the part no longer matches.
    const sheetAt = whole.indexOf('xl/worksheets/sheet1.xml');
    const flipped = Buffer.from(whole);
    flipped[sheetAt + 200] = flipped[sheetAt + 200]! ^ 0xff;
    cases.push(['flipped byte', flipped, 'f.xlsx']);
    for (const [name, bytes, words] of cases) {
      const error = await failure(bytes);
      expect(error.code, name).toBe('PARSE_FAILED');
      expect(error.message, name).toContain('f.xlsx');
      expect(error.message, name).toContain(words);
    }
  });
});

describe('xlsx parser and its scratch copy', () => {
  it('removes its copy of the file when done, failed or stopped early', async () => {
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'xlsx-work-'));
    const scratch: PluginContext = { ...context, workDir };
    const rows: Cell[][] = [['n']];
    for (let i = 1; i <= 50; i++) rows.push([i]);
    const bytes = await book({ S: rows });
    const options = xlsxParser.options.parse({ batchSize: 5 });
    const read = (input: Buffer) =>
      xlsxParser.parse({ stream: Readable.from([input]), origin: 'f.xlsx' }, options, scratch);
    let batches = 0;
    for await (const _ of read(bytes)) batches++;
    expect(batches).toBe(10);
    for await (const _ of read(bytes)) break;
    await expect(async () => {
      for await (const _ of read(bytes.subarray(0, 100)));
    }).rejects.toMatchObject({ code: 'PARSE_FAILED' });
    expect(await readdir(workDir)).toEqual([]);
  });
});
