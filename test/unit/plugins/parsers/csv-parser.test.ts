import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../src/core/errors.js';
import type { BatchResult, PluginContext } from '../../../../src/core/plugin.js';
import { csvParser } from '../../../../src/plugins/parsers/csv-parser.js';

const context: PluginContext = {
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir: '/tmp',
};

/** Splits bytes into chunks of `size` bytes (the whole input when size is undefined). */
function chunked(bytes: Buffer, size?: number): Buffer[] {
  if (size === undefined) return [bytes];
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

async function parse(
  input: string | Buffer,
  options: Record<string, unknown> = {},
  { chunkSize, origin = 'f.csv' }: { chunkSize?: number; origin?: string } = {},
): Promise<BatchResult[]> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const stream = Readable.from(chunked(bytes, chunkSize));
  const results: BatchResult[] = [];
  for await (const result of csvParser.parse({ stream, origin }, csvParser.options.parse(options), context)) {
    results.push(result);
  }
  return results;
}

/** Everything the batches carry, merged, for comparing whole outputs. */
async function parseAll(input: string | Buffer, options: Record<string, unknown> = {}, chunkSize?: number) {
  const results = await parse(input, options, { chunkSize });
  return {
    columns: results[0]?.batch.columns.map((c) => c.name),
    rows: results.flatMap((r) => r.batch.rows),
    lines: results.flatMap((r) => r.batch.lines),
    raw: results.flatMap((r) => r.batch.raw ?? []),
    rejects: results.flatMap((r) => r.rejects),
    rejectedRows: results.reduce((n, r) => n + r.rejectedRows, 0),
  };
}

async function parseError(
  input: string | Buffer,
  options: Record<string, unknown> = {},
): Promise<SluiceError> {
  try {
    await parse(input, options);
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error('expected the parse to fail');
}

describe('csv parser', () => {
  it('reads a header and rows into a batch with lines, raw text and origin', async () => {
    const results = await parse(
      'id,name,city\n1,Ana,Madrid\n2, Luis ,Sevilla\n',
      {},
      { origin: 'visits.csv' },
    );
    expect(results).toHaveLength(1);
    expect(results[0]).toEqual({
      batch: {
        columns: [{ name: 'id' }, { name: 'name' }, { name: 'city' }],
        rows: [
          ['1', 'Ana', 'Madrid'],
          ['2', ' Luis ', 'Sevilla'],
        ],
        origin: 'visits.csv',
        lines: [2, 3],
        raw: ['1,Ana,Madrid', '2, Luis ,Sevilla'],
      },
      rejects: [],
      rejectedRows: 0,
    });
  });

  it('trims header cells into column names and reads a last line without a line break', async () => {
    const out = await parseAll(' id , Name\n1,a');
    expect(out.columns).toEqual(['id', 'Name']);
    expect(out.rows).toEqual([['1', 'a']]);
  });

  it('drops a leading UTF-8 BOM', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,name\n1,Ana\n')]);
    const out = await parseAll(bytes);
    expect(out.columns).toEqual(['id', 'name']);
    expect(out.rows).toEqual([['1', 'Ana']]);
  });

  it.each([
    ['LF', 'a,b\n1,2\n3,4\n'],
    ['CRLF', 'a,b\r\n1,2\r\n3,4\r\n'],
    ['lone CR', 'a,b\r1,2\r3,4\r'],
    ['mixed', 'a,b\r\n1,2\n3,4\r'],
  ])('accepts %s line endings', async (_name, text) => {
    const out = await parseAll(text);
    expect(out.rows).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(out.lines).toEqual([2, 3]);
    expect(out.raw).toEqual(['1,2', '3,4']);
  });

  it('keeps delimiters inside quotes and removes the quotes', async () => {
    const out = await parseAll('a,b,c\n"x,y",plain,"z"\n');
    expect(out.rows).toEqual([['x,y', 'plain', 'z']]);
    expect(out.raw).toEqual(['"x,y",plain,"z"']);
  });

  it('reads a doubled quote inside a quoted field as one quote', async () => {
    const out = await parseAll('a,b\n"say ""hi""",""""\n"",x\n');
    expect(out.rows).toEqual([
      ['say "hi"', '"'],
      ['', 'x'],
    ]);
  });

  it('reads line breaks inside quotes and counts the physical lines', async () => {
    const out = await parseAll('id,note\n1,"first\nsecond\r\nthird"\n2,plain\r\n3,"x\ry"\n4,end\n');
    expect(out.rows).toEqual([
      ['1', 'first\nsecond\r\nthird'],
      ['2', 'plain'],
      ['3', 'x\ry'],
      ['4', 'end'],
    ]);
    expect(out.lines).toEqual([2, 5, 6, 8]);
    expect(out.raw[0]).toBe('1,"first\nsecond\r\nthird"');
  });

  it('keeps a quote inside an unquoted field, and text after a closing quote, as written', async () => {
    const out = await parseAll('a,b\n5" screen,"12"x\n');
    expect(out.rows).toEqual([['5" screen', '12x']]);
  });

  it('reads an empty last field after a trailing delimiter', async () => {
    const out = await parseAll('a,b\n1,\n"x",\n');
    expect(out.rows).toEqual([
      ['1', ''],
      ['x', ''],
    ]);
  });

  it('gives the same output with 1-byte chunks as with one chunk', async () => {
    const text =
      '\uFEFFid;name;note\r\n' +
      '1;"Núñez; José";"line one\r\nline two"\r\n' +
      '2;€uro;"a ""quoted"" word"\r' +
      '\r\n' +
      '3;"";"ends with quote"""\n' +
      '4;x;"y\n"\r\n' +
      '5;bad\n' +
      '6;last;"no newline at the end"';
    const bytes = Buffer.from(text, 'utf8');
    const whole = await parseAll(bytes, { delimiter: ';' });
    expect(whole.columns).toEqual(['id', 'name', 'note']);
    expect(whole.rows).toEqual([
      ['1', 'Núñez; José', 'line one\r\nline two'],
      ['2', '€uro', 'a "quoted" word'],
      ['3', '', 'ends with quote"'],
      ['4', 'x', 'y\n'],
      ['6', 'last', 'no newline at the end'],
    ]);
    expect(whole.lines).toEqual([2, 4, 6, 7, 10]);
    expect(whole.rejects).toEqual([
      {
        origin: 'f.csv',
        line: 9,
        column: null,
        rule: 'fieldCount',
        value: null,
        message: 'expected 3 fields, found 2',
        raw: '5;bad',
      },
    ]);
    for (const size of [1, 2, 3, 5, 7]) {
      expect(await parseAll(bytes, { delimiter: ';' }, size)).toEqual(whole);
    }
  });

  it('reads a doubled quote split between two chunks', async () => {
    const stream = Readable.from([Buffer.from('a,b\n"x"'), Buffer.from('"y",1\n')]);
    const results: BatchResult[] = [];
    for await (const r of csvParser.parse({ stream, origin: 'f.csv' }, csvParser.options.parse({}), context))
      results.push(r);
    expect(results.flatMap((r) => r.batch.rows)).toEqual([['x"y', '1']]);
  });

  it('holds one record at a time, even with lone-CR line breaks in 1-byte chunks', async () => {
    const text = `a,b\r${'1234,5678\r'.repeat(500)}`;
    const out = await parseAll(text, { maxRecordLength: 1000 }, 1);
    expect(out.rows).toHaveLength(500);
  });

  it('yields batches while the file is still being read', async () => {
    let chunksRead = 0;
    async function* source() {
      yield Buffer.from('a,b\n');
      for (let i = 0; i < 100; i++) {
        chunksRead++;
        yield Buffer.from('1,2\n'.repeat(10));
      }
    }
    const seen: number[] = [];
    const options = csvParser.options.parse({ batchSize: 10 });
    for await (const r of csvParser.parse(
      { stream: Readable.from(source()), origin: 'f.csv' },
      options,
      context,
    )) {
      expect(r.batch.rows).toHaveLength(10);
      seen.push(chunksRead);
    }
    expect(seen).toHaveLength(100);
    expect(seen[0]).toBeLessThan(5);
  });

  it('decodes latin1', async () => {
    const bytes = iconv.encode('Id;Fecha envío;Población\n1;10/03/2024;Cádiz\n', 'latin1');
    expect(bytes.includes(Buffer.from('í', 'utf8'))).toBe(false);
    const out = await parseAll(bytes, { delimiter: ';', encoding: 'latin1' });
    expect(out.columns).toEqual(['Id', 'Fecha envío', 'Población']);
    expect(out.rows).toEqual([['1', '10/03/2024', 'Cádiz']]);
  });

  it('warns once when a UTF-8 file has bytes that are not UTF-8', async () => {
    const warnings: string[] = [];
    const logged: PluginContext = {
      ...context,
      logger: { ...context.logger, warn: (m) => warnings.push(m) },
    };
    const bytes = iconv.encode('a\nenvío\nañil\n', 'latin1');
    const rows: unknown[] = [];
    const stream = Readable.from([bytes]);
    for await (const r of csvParser.parse({ stream, origin: 'f.csv' }, csvParser.options.parse({}), logged)) {
      rows.push(...r.batch.rows);
    }
    expect(rows).toEqual([['env\uFFFDo'], ['a\uFFFDil']]);
    expect(warnings).toEqual([
      'f.csv:2 has bytes that are not valid UTF-8 (read as "\uFFFD"); the file is probably in another ' +
        'encoding: set encoding: latin1 (or windows-1252) in its parse options',
    ]);
  });

  it('warns when a header of one column holds another separator: the delimiter is probably wrong', async () => {
    const warningsOf = async (text: string, options: Record<string, unknown> = {}) => {
      const warnings: string[] = [];
      const logged: PluginContext = {
        ...context,
        logger: { ...context.logger, warn: (m) => warnings.push(m) },
      };
      const stream = Readable.from([Buffer.from(text)]);
      for await (const _ of csvParser.parse(
        { stream, origin: 'f.csv' },
        csvParser.options.parse(options),
        logged,
      ));
      return warnings;
    };
    expect(await warningsOf('id;amount\n1;2,5\n')).toEqual([
      'f.csv:1: the header is one column, "id;amount": the file looks separated by ";", not ","; set ' +
        'delimiter: ";" in its parse options',
    ]);
    expect(await warningsOf('id\tname\n1\tx\n')).toEqual([expect.stringContaining('separated by "\\t"')]);
    expect(await warningsOf('id,amount\n1,2\n', { delimiter: ';' })).toEqual([
      expect.stringContaining('separated by ",", not ";"'),
    ]);
    // A real one-column file, or a separator inside the quotes of a header read with it: nothing to say.
    expect(await warningsOf('id\n1\n')).toEqual([]);
    expect(await warningsOf('"a,b"\n1\n')).toEqual([]);
    expect(await warningsOf('id;amount\n1;2\n', { delimiter: ';' })).toEqual([]);
  });

  it('names the line of the first byte that is not UTF-8, whatever the chunks and line breaks', async () => {
    const text = 'a,b\r\n1,"two\nlines"\r\n2,ok\r3,"x\n\nca\u00f1a"\n4,\u00f1\n';
    const bytes = iconv.encode(text, 'latin1');
    for (const chunkSize of [undefined, 1, 3, 16]) {
      const warnings: { message: string; line: unknown }[] = [];
      const logged: PluginContext = {
        ...context,
        logger: { ...context.logger, warn: (message, data) => warnings.push({ message, line: data?.line }) },
      };
      const stream = Readable.from(chunked(bytes, chunkSize));
      for await (const _ of csvParser.parse(
        { stream, origin: 'f.csv' },
        csvParser.options.parse({}),
        logged,
      ));
      expect(
        warnings.map((w) => w.line),
        `chunks of ${chunkSize}`,
      ).toEqual([7]);
      expect(warnings[0]!.message).toMatch(/^f\.csv:7 has bytes/);
    }
  });

  it('refuses a UTF-16 file read as UTF-8, saying which encoding to set', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\n1,2\n', 'utf16le')]);
    const error = await parseError(bytes);
    expect(error.code).toBe('PARSE_FAILED');
    expect(error.message).toContain('UTF-16LE');
    expect(error.where).toBe('f.csv:1');
    expect(error.message).toContain('set encoding: utf-16le');
    const out = await parseAll(bytes, { encoding: 'utf-16le' });
    expect(out.columns).toEqual(['a', 'b']);
    expect(out.rows).toEqual([['1', '2']]);
  });

  it('decodes a large chunk piece by piece without splitting a character at the seams', async () => {
    // Chunks of 256 KB are decoded 64 KB at a time: a character that starts 1, 2 or 3 bytes before the
    // seam at 65,536 must come out whole (UTF-8's 3-byte euro sign, UTF-16's 4-byte surrogate pair).
    const cases = [
      { encoding: 'utf-8', char: '€', unit: 1 },
      { encoding: 'utf-16le', char: '😀', unit: 2 },
    ];
    for (const { encoding, char, unit } of cases) {
      const encode = (text: string) => iconv.encode(text, encoding);
      const width = encode(char).length;
      for (let before = 1; before < width; before++) {
        const fillerBytes = 65_536 - before - encode('v\n').length;
        if (fillerBytes % unit !== 0) continue;
        const filler = 'x'.repeat(fillerBytes / unit);
        const bytes = encode(`v\n${filler}${char}y\n${char.repeat(30_000)}\nlast\n`);
        const at = 65_536 - before;
        expect(bytes.subarray(at, at + width).equals(encode(char))).toBe(true);
        const out = await parseAll(bytes, { encoding }, 1 << 18);
        expect(out.rows, `${encoding}, ${before} byte(s) before the seam`).toEqual([
          [`${filler}${char}y`],
          [char.repeat(30_000)],
          ['last'],
        ]);
      }
    }
  });

  it('decodes windows-1252, whose euro sign is byte 0x80, also split into 1-byte chunks', async () => {
    const bytes = iconv.encode('Concepto;Importe\nCafé;3 €\n', 'windows-1252');
    expect(bytes.includes(0x80)).toBe(true);
    const options = { delimiter: ';', encoding: 'windows-1252' };
    const out = await parseAll(bytes, options);
    expect(out.rows).toEqual([['Café', '3 €']]);
    expect(await parseAll(bytes, options, 1)).toEqual(out);
  });

  it.each([
    ['zero bytes', ''],
    ['only a BOM', '\uFEFF'],
    ['only white space', '  \r\n\n \t\n'],
  ])('refuses an empty file (%s) when a header is expected', async (_name, text) => {
    const error = await parseError(text);
    expect(error.code).toBe('FILE_EMPTY');
    expect(error.message).toBe('the file is empty: expected a header line');
    expect(error.where).toBe('f.csv:1');
  });

  it('reads a header-only file as one empty batch with its columns', async () => {
    const results = await parse('id,name\r\n');
    expect(results).toEqual([
      {
        batch: { columns: [{ name: 'id' }, { name: 'name' }], rows: [], origin: 'f.csv', lines: [], raw: [] },
        rejects: [],
        rejectedRows: 0,
      },
    ]);
  });

  describe('expectHeader', () => {
    const expectHeader = ['Id', 'Email', 'Badmail'];

    it('names the columns as expected, comparing trimmed and without case', async () => {
      const out = await parseAll(' ID ,EMAIL,badmail\n1,a@b.es,no\n', { expectHeader });
      expect(out.columns).toEqual(['Id', 'Email', 'Badmail']);
      expect(out.rows).toEqual([['1', 'a@b.es', 'no']]);
    });

    it('refuses a header with an extra column', async () => {
      const error = await parseError('Id,Email,Badmail,Foo\n1,a,b,c\n', { expectHeader });
      expect(error.code).toBe('LAYOUT_MISMATCH');
      expect(error.message).toBe('expected 3 columns, found 4 (extra: "Foo")');
      expect(error.where).toBe('f.csv:1');
    });

    it('names an extra column in the middle, not the columns after it', async () => {
      const error = await parseError('Id,Foo,Email,Badmail\n', { expectHeader });
      expect(error.message).toBe('expected 3 columns, found 4 (extra: "Foo")');
    });

    it('refuses a header with a missing column', async () => {
      const error = await parseError('Id,Badmail\n', { expectHeader });
      expect(error.message).toBe('expected 3 columns, found 2 (missing: "Email")');
    });

    it('refuses a renamed column, naming its position', async () => {
      const error = await parseError('\n\nId,Email,Bad mail\n', { expectHeader });
      expect(error.message).toBe('column 3: expected "Badmail", found "Bad mail"');
      expect(error.where).toBe('f.csv:3');
    });

    it('takes any name for an "any" column, which can change between files', async () => {
      const options = { expectHeader: ['Id', { name: 'sent_at', any: true }] };
      const first = await parseAll('Id,Fecha envío\n1,x\n', options);
      const second = await parseAll('Id,Send date\n2,y\n', options);
      expect(first.columns).toEqual(['Id', 'sent_at']);
      expect(second.columns).toEqual(['Id', 'sent_at']);
      expect(second.rows).toEqual([['2', 'y']]);
    });

    it('checks a "matches" column against its regular expression', async () => {
      const options = { expectHeader: ['Id', { name: 'sent_at', matches: '^(fecha|send)' }] };
      expect((await parseAll('Id,FECHA envio\n', options)).columns).toEqual(['Id', 'sent_at']);
      const error = await parseError('Id,Date\n', options);
      expect(error.message).toBe('column 2: expected a name matching /^(fecha|send)/i, found "Date"');
    });

    it('validates its regular expressions with the options', () => {
      const result = csvParser.options.safeParse({ expectHeader: [{ name: 'x', matches: '(' }] });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/^not a valid regular expression: /);
    });
  });

  it('rejects a row with the wrong field count and loads the rest', async () => {
    const out = await parseAll('a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n');
    expect(out.rows).toEqual([
      ['1', '2', '3'],
      ['10', '11', '12'],
    ]);
    expect(out.lines).toEqual([2, 5]);
    expect(out.rejectedRows).toBe(2);
    expect(out.rejects).toEqual([
      {
        origin: 'f.csv',
        line: 3,
        column: null,
        rule: 'fieldCount',
        value: null,
        message: 'expected 3 fields, found 2',
        raw: '4,5',
      },
      {
        origin: 'f.csv',
        line: 4,
        column: null,
        rule: 'fieldCount',
        value: null,
        message: 'expected 3 fields, found 4',
        raw: '6,7,8,9',
      },
    ]);
  });

  it('rejects a record whose quote is still open at the end of the file', async () => {
    const out = await parseAll('a,b\n1,ok\n2,"never closed\n3,x\n');
    expect(out.rows).toEqual([['1', 'ok']]);
    expect(out.rejectedRows).toBe(1);
    expect(out.rejects).toEqual([
      {
        origin: 'f.csv',
        line: 3,
        column: null,
        rule: 'quote',
        value: null,
        message: 'field 2 opens a quote that is not closed before the end of the file',
        raw: '2,"never closed\n3,x',
      },
    ]);
  });

  it('rejects a row with a field longer than maxFieldSize, whole or in chunks, and reads on after it', async () => {
    const big = `${'x'.repeat(1500)}\n${'y'.repeat(1500)}""z\r\n${'w'.repeat(1500)}`;
    const text = `id,note,n\r\n1,small,1\r\n2,"${big}",2\r\n3,"ok\nsplit",3\n4,${'u'.repeat(2500)},4\n5,last,5`;
    const expected = {
      columns: ['id', 'note', 'n'],
      rows: [
        ['1', 'small', '1'],
        ['3', 'ok\nsplit', '3'],
        ['5', 'last', '5'],
      ],
      lines: [2, 6, 9],
      rejectedRows: 2,
      rejects: [
        {
          origin: 'f.csv',
          line: 3,
          column: null,
          rule: 'fieldSize',
          value: null,
          message: 'field 2 is longer than 1000 characters (maxFieldSize)',
          raw: `2,"${big.slice(0, 997)}…`,
        },
        {
          origin: 'f.csv',
          line: 8,
          column: null,
          rule: 'fieldSize',
          value: null,
          message: 'field 2 is longer than 1000 characters (maxFieldSize)',
          raw: `4,${'u'.repeat(998)}…`,
        },
      ],
    };
    for (const chunkSize of [undefined, 1, 7, 64, 1024]) {
      const out = await parseAll(text, { maxFieldSize: 1000 }, chunkSize);
      expect({ ...out, raw: undefined }, `chunks of ${chunkSize}`).toEqual({ ...expected, raw: undefined });
    }
  });

  it('keeps a long quoted field with line breaks under maxFieldSize, read in small chunks', async () => {
    const note = Array.from({ length: 200 }, (_, i) => `line ${i}, with "quotes"`).join('\r\n');
    const text = `a,b\n"${note.replaceAll('"', '""')}",1\n2,3\n`;
    for (const chunkSize of [undefined, 5, 100]) {
      const out = await parseAll(text, { maxFieldSize: 10_000 }, chunkSize);
      expect(out.rows).toEqual([
        [note, '1'],
        ['2', '3'],
      ]);
      expect(out.lines).toEqual([2, 202]);
    }
  });

  it('rejects a record longer than maxRecordLength, and one whose long quote never closes', async () => {
    const long = await parseAll(`a,b\n${'"xxxxxxxxx",'.repeat(200)}1\n2,3\n`, { maxRecordLength: 1000 }, 50);
    expect(long.rows).toEqual([['2', '3']]);
    expect(long.rejects.map((r) => [r.line, r.rule, r.message])).toEqual([
      [2, 'recordLength', 'the record is longer than 1000 characters (maxRecordLength)'],
    ]);
    const open = await parseAll(`a,b\n1,2\n3,"${'x\n'.repeat(2000)}`, { maxFieldSize: 1000 }, 100);
    expect(open.rows).toEqual([['1', '2']]);
    expect(open.rejects.map((r) => [r.line, r.rule, r.message])).toEqual([
      [
        3,
        'fieldSize',
        'field 2 is longer than 1000 characters (maxFieldSize); field 2 opens a quote that is not closed before the end of the file',
      ],
    ]);
  });

  it('fails the file when its header line is too long', async () => {
    for (const chunkSize of [undefined, 100]) {
      const error = await parse(`"a${'x'.repeat(3000)}\n1\n`, { maxFieldSize: 1000 }, { chunkSize }).then(
        () => undefined,
        (e: unknown) => e as SluiceError,
      );
      expect(error?.code, `chunks of ${chunkSize}`).toBe('LAYOUT_MISMATCH');
      expect(error?.where).toBe('f.csv:1');
      expect(error?.message).toContain('the header line is too long');
    }
  });

  it('skips blank lines, or keeps them when asked', async () => {
    expect((await parseAll('a\n1\n\n  \n2\n')).rows).toEqual([['1'], ['2']]);
    const kept = await parseAll('a\n1\n\n  \n2\n', { skipBlankLines: false });
    expect(kept.rows).toEqual([['1'], [''], ['  '], ['2']]);
    expect(kept.lines).toEqual([2, 3, 4, 5]);
  });

  it('names the columns column_1… without a header, or as given', async () => {
    const out = await parseAll('1,2\n3,4\n', { header: false });
    expect(out.columns).toEqual(['column_1', 'column_2']);
    expect(out.rows).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(out.lines).toEqual([1, 2]);
    const named = await parseAll('1,2\n3\n', { header: false, columns: ['x', 'y'] });
    expect(named.columns).toEqual(['x', 'y']);
    expect(named.rows).toEqual([['1', '2']]);
    expect(named.rejects.map((r) => r.message)).toEqual(['expected 2 fields, found 1']);
  });

  it('splits rows into batches of batchSize, rejects counted in the batch', async () => {
    const results = await parse('a,b\n1,1\n2,2\nbad\n3,3\n4,4\n', { batchSize: 2 });
    expect(results.map((r) => [r.batch.rows.length, r.rejectedRows])).toEqual([
      [2, 0],
      [1, 1],
      [1, 0],
    ]);
    expect(results.map((r) => r.batch.lines)).toEqual([[2, 3], [5], [6]]);
  });

  it('reads tab-separated text and can turn quoting off', async () => {
    const out = await parseAll('a\tb\n"x\t5" y\n', { delimiter: '\t', quote: '' });
    expect(out.rows).toEqual([['"x', '5" y']]);
  });

  it('validates its options and has defaults', () => {
    expect(csvParser.options.parse({})).toEqual({
      delimiter: ',',
      quote: '"',
      header: true,
      encoding: 'utf-8',
      skipBlankLines: true,
      batchSize: 500,
      maxFieldSize: 1_000_000,
      maxRecordLength: 10_000_000,
    });
    expect(csvParser.options.safeParse({ encoding: 'klingon' }).success).toBe(false);
    expect(csvParser.options.safeParse({ delimiter: ';;' }).success).toBe(false);
    expect(csvParser.options.safeParse({ delimitter: ';' }).success).toBe(false);
  });

  it('refuses contradictory options when it starts', async () => {
    expect((await parseError('a\n', { columns: ['x'] })).code).toBe('CONFIG_INVALID');
    expect((await parseError('a\n', { header: false, expectHeader: ['a'] })).code).toBe('CONFIG_INVALID');
    expect((await parseError('a\n', { delimiter: '|', quote: '|' })).code).toBe('CONFIG_INVALID');
  });

  it('stops when the run is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const run = async () => {
      const stream = Readable.from([Buffer.from('a\n1\n')]);
      const options = csvParser.options.parse({});
      for await (const _ of csvParser.parse({ stream, origin: 'f.csv' }, options, {
        ...context,
        signal: controller.signal,
      }));
    };
    await expect(run()).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('passes on a read error of the stream', async () => {
    for (const encoding of ['utf-8', 'latin1']) {
      const stream = new Readable({
        read() {
          this.destroy(new Error('disk gone'));
        },
      });
      const run = async () => {
        for await (const _ of csvParser.parse(
          { stream, origin: 'f.csv' },
          csvParser.options.parse({ encoding }),
          context,
        ));
      };
      await expect(run()).rejects.toThrow('disk gone');
    }
  });
});
