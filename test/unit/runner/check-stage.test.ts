import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../src/core/errors.js';
import type { BatchResult } from '../../../src/core/plugin.js';
import type { Reject, Row } from '../../../src/core/records.js';
import { Registry } from '../../../src/core/registry.js';
import { checkSectionSchema, type CheckSpec } from '../../../src/core/spec.js';
import { checkRules } from '../../../src/plugins/checks/index.js';
import { createCheckStage } from '../../../src/runner/check-stage.js';

const registry = new Registry(checkRules);

/** A check section validated and ordered as the pipeline spec does it. */
function checkSpec(section: unknown): CheckSpec {
  const parsed = checkSectionSchema(registry).parse(section);
  const order = registry.list('check').map((r) => r.name);
  const columns: CheckSpec['columns'] = {};
  for (const [name, entries] of Object.entries(parsed.columns as Record<string, Record<string, unknown>>)) {
    columns[name] = {
      required: entries.required === true,
      rules: order.filter((r) => entries[r] !== undefined).map((r) => ({ rule: r, options: entries[r] })),
    };
  }
  return { nullValues: parsed.nullValues, columns };
}

function input(names: string[], rows: Row[], extra: Partial<BatchResult> = {}): BatchResult {
  return {
    batch: {
      columns: names.map((name) => ({ name })),
      rows,
      origin: 'visits.csv',
      lines: rows.map((_, i) => i + 2),
      raw: rows.map((row) => row.join(';')),
    },
    rejects: [],
    rejectedRows: 0,
    ...extra,
  };
}

describe('check stage', () => {
  it('turns null markers into null in every column, compared after trimming', () => {
    const stage = createCheckStage(
      checkSpec({ nullValues: ['', '-'], columns: { n: { integer: true } } }),
      registry,
    );
    const out = stage(
      input(
        ['a', 'n'],
        [
          ['-', ' - '],
          ['', '  '],
          [' x ', '5'],
          [null, null],
        ],
      ),
    );
    expect(out.batch.rows).toEqual([
      [null, null],
      [null, null],
      [' x ', '5'],
      [null, null],
    ]);
    expect(out.rejects).toEqual([]);
    expect(out.rejectedRows).toBe(0);
  });

  it('keeps "-" when it is not a null marker', () => {
    const stage = createCheckStage(checkSpec({ columns: {} }), registry);
    expect(stage(input(['a'], [['-'], ['']])).batch.rows).toEqual([['-'], [null]]);
  });

  it('rejects a null in a required column, with the original text', () => {
    const stage = createCheckStage(
      checkSpec({ nullValues: ['', '-'], columns: { id: { required: true, integer: true }, note: {} } }),
      registry,
    );
    const out = stage(
      input(
        ['id', 'note'],
        [
          ['-', 'a'],
          ['7', '-'],
          ['', 'b'],
        ],
      ),
    );
    expect(out.batch.rows).toEqual([['7', null]]);
    expect(out.batch.lines).toEqual([3]);
    expect(out.batch.raw).toEqual(['7;-']);
    expect(out.rejectedRows).toBe(2);
    expect(out.rejects).toEqual<Reject[]>([
      {
        origin: 'visits.csv',
        line: 2,
        column: 'id',
        rule: 'required',
        value: '-',
        message: 'a value is required',
        raw: '-;a',
      },
      {
        origin: 'visits.csv',
        line: 4,
        column: 'id',
        rule: 'required',
        value: '',
        message: 'a value is required',
        raw: ';b',
      },
    ]);
  });

  it('runs the rules in order, each rewriting the value: padded upper-case e-mails pass trim and lowercase', () => {
    const stage = createCheckStage(
      checkSpec({ columns: { email: { email: true, lowercase: true, trim: true } } }),
      registry,
    );
    const out = stage(input(['email'], [['  Ana.Lopez@Example.COM '], ['ANA@EXAMPLE.ES']]));
    expect(out.batch.rows).toEqual([['ana.lopez@example.com'], ['ana@example.es']]);
    expect(out.rejects).toEqual([]);
  });

  it('rejects what fails a rule, with the original text, and loads the rest', () => {
    const stage = createCheckStage(
      checkSpec({ columns: { visits: { trim: true, integer: { min: 0 } } } }),
      registry,
    );
    const out = stage(input(['visits'], [[' 3 '], ['-1'], ['x'], ['+0']]));
    expect(out.batch.rows).toEqual([['3'], ['0']]);
    expect(out.batch.lines).toEqual([2, 5]);
    expect(out.batch.raw).toEqual([' 3 ', '+0']);
    expect(out.rejectedRows).toBe(2);
    expect(out.rejects).toEqual<Reject[]>([
      {
        origin: 'visits.csv',
        line: 3,
        column: 'visits',
        rule: 'integer',
        value: '-1',
        message: 'must be an integer ≥ 0',
        raw: '-1',
      },
      {
        origin: 'visits.csv',
        line: 4,
        column: 'visits',
        rule: 'integer',
        value: 'x',
        message: 'must be an integer ≥ 0',
        raw: 'x',
      },
    ]);
  });

  it('checks dates as real calendar dates and rewrites them', () => {
    const stage = createCheckStage(
      checkSpec({ columns: { sent: { datetime: 'dd/MM/yyyy HH:mm' } } }),
      registry,
    );
    const out = stage(
      input(
        ['sent'],
        [['31/02/2024 10:00'], ['29/02/2023 10:00'], ['29/02/2024 23:59'], ['01/03/2024 24:00']],
      ),
    );
    expect(out.batch.rows).toEqual([['2024-02-29 23:59:00']]);
    expect(out.rejects.map((r) => [r.line, r.value, r.message])).toEqual([
      [2, '31/02/2024 10:00', 'not a real date-time for dd/MM/yyyy HH:mm'],
      [3, '29/02/2023 10:00', 'not a real date-time for dd/MM/yyyy HH:mm'],
      [5, '01/03/2024 24:00', 'not a real date-time for dd/MM/yyyy HH:mm'],
    ]);
  });

  it('reports every rule a row breaks, as one rejected row; a column stops at its first failing rule', () => {
    const stage = createCheckStage(
      checkSpec({
        columns: {
          email: { trim: true, email: true },
          visits: { integer: { min: 0 }, oneOf: ['1', '2'] },
          channel: { oneOf: ['web', 'app'] },
        },
      }),
      registry,
    );
    const out = stage(
      input(
        ['email', 'visits', 'channel'],
        [
          ['ana@example.com', '1', 'web'],
          ['not-an-email', '-5', 'web'],
          ['b@example.es', '2', 'app'],
        ],
      ),
    );
    expect(out.batch.rows).toEqual([
      ['ana@example.com', '1', 'web'],
      ['b@example.es', '2', 'app'],
    ]);
    expect(out.batch.lines).toEqual([2, 4]);
    expect(out.rejectedRows).toBe(1);
    expect(out.rejects).toEqual<Reject[]>([
      {
        origin: 'visits.csv',
        line: 3,
        column: 'email',
        rule: 'email',
        value: 'not-an-email',
        message: 'not a valid e-mail address',
        raw: 'not-an-email;-5;web',
      },
      {
        origin: 'visits.csv',
        line: 3,
        column: 'visits',
        rule: 'integer',
        value: '-5',
        message: 'must be an integer ≥ 0',
        raw: 'not-an-email;-5;web',
      },
    ]);
  });

  it('passes the parser rejects through and adds its own', () => {
    const parserReject: Reject = {
      origin: 'visits.csv',
      line: 9,
      column: null,
      rule: 'fieldCount',
      value: null,
      message: 'expected 2 fields, found 1',
      raw: 'x',
    };
    const stage = createCheckStage(checkSpec({ columns: { n: { integer: true } } }), registry);
    const out = stage(input(['n'], [['1'], ['y']], { rejects: [parserReject], rejectedRows: 1 }));
    expect(out.rejectedRows).toBe(2);
    expect(out.rejects.map((r) => r.rule)).toEqual(['fieldCount', 'integer']);
  });

  it('types the columns from the last rule that decides a type', () => {
    const stage = createCheckStage(
      checkSpec({
        columns: {
          sent: { trim: true, datetime: 'dd/MM/yyyy' },
          visits: { integer: { min: 0, max: 1000 } },
          big: { integer: true },
          amount: { decimal: true, regex: '^\\d+\\.\\d\\d$' },
          email: { email: true },
        },
      }),
      registry,
    );
    const out = stage(input(['id', 'sent', 'visits', 'big', 'amount', 'email'], []));
    expect(out.batch.columns).toEqual([
      { name: 'id' },
      { name: 'sent', type: 'date' },
      { name: 'visits', type: 'integer' },
      { name: 'big', type: 'bigint' },
      { name: 'amount', type: 'numeric' },
      { name: 'email' },
    ]);
  });

  it('leaves the input batch its length, so that the rows read can still be counted', () => {
    const stage = createCheckStage(checkSpec({ columns: { n: { integer: true } } }), registry);
    const parsed = input(['n'], [['1'], ['x'], ['3']]);
    const out = stage(parsed);
    expect(out.batch.rows).toEqual([['1'], ['3']]);
    expect(parsed.batch.rows).toHaveLength(3);
    expect(parsed.batch.lines).toHaveLength(3);
    expect(parsed.rejects).toEqual([]);
  });

  it('refuses a checked column the file does not have, naming the columns it has', () => {
    const stage = createCheckStage(checkSpec({ columns: { Email: { email: true } } }), registry);
    let error: unknown;
    try {
      stage(input(['id', 'mail', 'city'], [['1', 'a@b.es', 'x']]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('LAYOUT_MISMATCH');
    expect((error as SluiceError).message).toBe(
      'no column "Email", which check.columns names; the columns are: id, mail, city',
    );
  });

  it('checks values a parser gave as numbers or dates through their text', () => {
    const stage = createCheckStage(
      checkSpec({ columns: { n: { integer: { min: 0 } }, d: { regex: '^2024-' } } }),
      registry,
    );
    const out = stage(
      input(
        ['n', 'd'],
        [
          [5, new Date('2024-03-10T00:00:00Z')],
          [-1, new Date('2023-01-01T00:00:00Z')],
        ],
      ),
    );
    expect(out.batch.rows).toEqual([['5', '2024-03-10T00:00:00.000Z']]);
    expect(out.rejects.map((r) => [r.column, r.value])).toEqual([
      ['n', '-1'],
      ['d', '2023-01-01T00:00:00.000Z'],
    ]);
  });
});
