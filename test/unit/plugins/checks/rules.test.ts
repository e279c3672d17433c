import { describe, expect, it } from 'vitest';
import type { CheckOutcome, CheckRule } from '../../../../src/core/plugin.js';
import { Registry } from '../../../../src/core/registry.js';
import { checkSectionSchema } from '../../../../src/core/spec.js';
import { datetimeCheck } from '../../../../src/plugins/checks/datetime-check.js';
import { decimalCheck } from '../../../../src/plugins/checks/decimal-check.js';
import { emailCheck } from '../../../../src/plugins/checks/email-check.js';
import { checkRules } from '../../../../src/plugins/checks/index.js';
import { integerCheck } from '../../../../src/plugins/checks/integer-check.js';
import { lowercaseCheck } from '../../../../src/plugins/checks/lowercase-check.js';
import { oneOfCheck } from '../../../../src/plugins/checks/one-of-check.js';
import { regexCheck } from '../../../../src/plugins/checks/regex-check.js';
import { trimCheck } from '../../../../src/plugins/checks/trim-check.js';
import { uppercaseCheck } from '../../../../src/plugins/checks/uppercase-check.js';

/** The rule compiled from options as a pipeline would write them. */
function compile(rule: CheckRule, options: unknown): (value: string) => CheckOutcome {
  return rule.compile(rule.options.parse(options));
}

function typeOf(rule: CheckRule, options: unknown) {
  return rule.columnType?.(rule.options.parse(options));
}

/** The first issue's message when the options are invalid. */
function optionError(rule: CheckRule, options: unknown): string | undefined {
  const result = rule.options.safeParse(options);
  return result.success ? undefined : result.error.issues[0]?.message;
}

const ok = (value: string): CheckOutcome => ({ ok: true, value });
const fail = (message: string): CheckOutcome => ({ ok: false, message });

describe('check rules', () => {
  it('are listed normalizers first, in the order they apply', () => {
    expect(checkRules.map((r) => r.name)).toEqual([
      'trim',
      'lowercase',
      'uppercase',
      'email',
      'datetime',
      'integer',
      'decimal',
      'regex',
      'oneOf',
    ]);
    expect(checkRules.every((r) => r.kind === 'check')).toBe(true);
  });

  it('accept the shorthands in a check section', () => {
    const schema = checkSectionSchema(new Registry(checkRules));
    const parsed = schema.parse({
      nullValues: ['', '-'],
      columns: {
        email: { required: true, trim: true, lowercase: true, email: true },
        sent: { datetime: 'dd/MM/yyyy HH:mm' },
        visits: { integer: { min: 0 } },
        count: { integer: true },
        amount: { decimal: { decimalSeparator: ',' } },
        code: { regex: '^[A-Z]{2}$' },
        channel: { oneOf: ['web', 'app'] },
      },
    });
    expect(parsed.columns).toEqual({
      email: { required: true, trim: true, lowercase: true, email: true },
      sent: { required: false, datetime: { format: 'dd/MM/yyyy HH:mm' } },
      visits: { required: false, integer: { min: 0 } },
      count: { required: false, integer: {} },
      amount: { required: false, decimal: { decimalSeparator: ',' } },
      code: { required: false, regex: { pattern: '^[A-Z]{2}$' } },
      channel: { required: false, oneOf: { values: ['web', 'app'], ignoreCase: false } },
    });
  });

  it('trim, lowercase and uppercase rewrite the value', () => {
    expect(compile(trimCheck, true)('  a b \t')).toEqual(ok('a b'));
    expect(compile(lowercaseCheck, true)('ÁBC')).toEqual(ok('ábc'));
    expect(compile(uppercaseCheck, true)('ñu')).toEqual(ok('ÑU'));
    expect(optionError(trimCheck, false)).toBeDefined();
  });

  describe('email', () => {
    const check = compile(emailCheck, true);
    it.each(['ana@example.com', 'first.last+tag@mail.example.co.uk', "o'brien@ex-ample.es", 'x@y.museum'])(
      'accepts %s',
      (address) => expect(check(address)).toEqual(ok(address)),
    );
    it.each([
      '',
      'plain',
      'ana@',
      '@example.com',
      'ana@@example.com',
      'ana@exa@mple.com',
      'ana maria@example.com',
      ' ana@example.com',
      'ana@example',
      'ana@example.c',
      'ana@example.c0m',
      'ana@-example.com',
      'ana@example-.com',
      'ana@exa_mple.com',
      '.ana@example.com',
      'ana.@example.com',
      'an..a@example.com',
      'ana@example..com',
      `${'a'.repeat(65)}@example.com`,
    ])('refuses %j', (address) => expect(check(address)).toEqual(fail('not a valid e-mail address')));
  });

  describe('datetime', () => {
    const check = compile(datetimeCheck, 'dd/MM/yyyy HH:mm');

    it('rewrites a date-time as ISO text, typed timestamp', () => {
      expect(check('23/03/2024 23:59')).toEqual(ok('2024-03-23 23:59:00'));
      expect(check('01/01/0999 00:00')).toEqual(ok('0999-01-01 00:00:00'));
      expect(typeOf(datetimeCheck, 'dd/MM/yyyy HH:mm')).toBe('timestamp');
    });

    it('refuses dates and times that do not exist', () => {
      const unreal = fail('not a real date-time for dd/MM/yyyy HH:mm');
      expect(check('31/02/2024 10:00')).toEqual(unreal);
      expect(check('29/02/2023 10:00')).toEqual(unreal);
      expect(check('29/02/2024 10:00')).toEqual(ok('2024-02-29 10:00:00'));
      expect(check('29/02/1900 10:00')).toEqual(unreal);
      expect(check('29/02/2000 10:00')).toEqual(ok('2000-02-29 10:00:00'));
      expect(check('31/04/2024 10:00')).toEqual(unreal);
      expect(check('10/13/2024 10:00')).toEqual(unreal);
      expect(check('00/01/2024 10:00')).toEqual(unreal);
      expect(check('10/03/2024 24:00')).toEqual(unreal);
      expect(check('10/03/2024 23:60')).toEqual(unreal);
      expect(check('10/03/0000 10:00')).toEqual(unreal);
    });

    it('refuses text in another form', () => {
      const shape = fail('not a date-time in the form dd/MM/yyyy HH:mm');
      for (const text of [
        '',
        '2024-03-10 10:00',
        '10/03/2024',
        '1/03/2024 10:00',
        '10/03/2024 10:00:00',
        '10/03/24 10:00',
        'x',
      ]) {
        expect(check(text)).toEqual(shape);
      }
    });

    it('reads a date-only format as a date', () => {
      const date = compile(datetimeCheck, { format: 'yyyyMMdd' });
      expect(date('20240229')).toEqual(ok('2024-02-29'));
      expect(date('20230229')).toEqual(fail('not a real date for yyyyMMdd'));
      expect(date('2024022')).toEqual(fail('not a date in the form yyyyMMdd'));
      expect(typeOf(datetimeCheck, 'yyyyMMdd')).toBe('date');
    });

    it('reads one-letter tokens, seconds and quoted literals', () => {
      const loose = compile(datetimeCheck, 'd/M/yyyy H:mm');
      expect(loose('5/3/2024 7:05')).toEqual(ok('2024-03-05 07:05:00'));
      expect(loose('15/12/2024 17:05')).toEqual(ok('2024-12-15 17:05:00'));
      const iso = compile(datetimeCheck, "yyyy-MM-dd'T'HH:mm:ss");
      expect(iso('2024-03-10T08:09:10')).toEqual(ok('2024-03-10 08:09:10'));
      expect(iso('2024-03-10T08:09:60')).toEqual(fail("not a real date-time for yyyy-MM-dd'T'HH:mm:ss"));
    });

    it('refuses a bad format when the options are validated', () => {
      expect(optionError(datetimeCheck, 'dd/MM/yy')).toBe(
        'bad date format "dd/MM/yy": "yy" is not a token; use yyyy, MM, M, dd, d, HH, H, mm or ss',
      );
      expect(optionError(datetimeCheck, { format: 'MM/yyyy' })).toBe(
        'bad date format "MM/yyyy": the format needs yyyy, MM (or M) and dd (or d)',
      );
      expect(optionError(datetimeCheck, 'dMyyyy')).toMatch(/must be followed by a separator/);
      expect(optionError(datetimeCheck, true)).toBeDefined();
    });
  });

  describe('integer', () => {
    it('accepts a sign and digits and rewrites them canonically', () => {
      const check = compile(integerCheck, true);
      expect(check('42')).toEqual(ok('42'));
      expect(check('-42')).toEqual(ok('-42'));
      expect(check('+42')).toEqual(ok('42'));
      expect(check('007')).toEqual(ok('7'));
      expect(check('-0')).toEqual(ok('0'));
      expect(check('0')).toEqual(ok('0'));
      expect(check('9223372036854775807')).toEqual(ok('9223372036854775807'));
      for (const text of ['', '-', '+', '1.0', '1e3', ' 1', '1 ', 'x', '1,000', '٣']) {
        expect(check(text)).toEqual(fail('must be an integer'));
      }
      expect(check('9223372036854775808')).toEqual(
        fail('must be an integer from -9223372036854775808 to 9223372036854775807'),
      );
    });

    it('applies min and max', () => {
      const check = compile(integerCheck, { min: 0 });
      expect(check('0')).toEqual(ok('0'));
      expect(check('-1')).toEqual(fail('must be an integer ≥ 0'));
      expect(check('x')).toEqual(fail('must be an integer ≥ 0'));
      const range = compile(integerCheck, { min: 1, max: 10 });
      expect(range('10')).toEqual(ok('10'));
      expect(range('11')).toEqual(fail('must be an integer from 1 to 10'));
      expect(range('00000000000000000000005')).toEqual(ok('5'));
      expect(range('100000000000000000000')).toEqual(fail('must be an integer from 1 to 10'));
      expect(compile(integerCheck, { max: -1 })('0')).toEqual(fail('must be an integer ≤ -1'));
      expect(optionError(integerCheck, { min: 5, max: 1 })).toBe('min is greater than max');
    });

    it('is typed integer when bounded within 32 bits, else bigint', () => {
      expect(typeOf(integerCheck, { min: 0, max: 100 })).toBe('integer');
      expect(typeOf(integerCheck, { min: -2147483648, max: 2147483647 })).toBe('integer');
      expect(typeOf(integerCheck, { min: 0, max: 2147483648 })).toBe('bigint');
      expect(typeOf(integerCheck, { min: 0 })).toBe('bigint');
      expect(typeOf(integerCheck, true)).toBe('bigint');
    });
  });

  describe('decimal', () => {
    it('reads "." by default and writes canonical text', () => {
      const check = compile(decimalCheck, true);
      expect(check('12.50')).toEqual(ok('12.50'));
      expect(check('+0012.5')).toEqual(ok('12.5'));
      expect(check('-.5')).toEqual(ok('-0.5'));
      expect(check('7.')).toEqual(ok('7'));
      expect(check('-0.00')).toEqual(ok('0.00'));
      for (const text of ['', '.', '-', '1,5', '1.2.3', '1e5', ' 1', 'NaN']) {
        expect(check(text)).toEqual(fail('must be a decimal number'));
      }
      expect(typeOf(decimalCheck, true)).toBe('numeric');
    });

    it('reads "," when asked, and applies min and max', () => {
      const check = compile(decimalCheck, { decimalSeparator: ',', min: 0, max: 100 });
      expect(check('99,95')).toEqual(ok('99.95'));
      expect(check('99.95')).toEqual(fail('must be a decimal number from 0 to 100'));
      expect(check('100,01')).toEqual(fail('must be a decimal number from 0 to 100'));
      expect(check('-0,01')).toEqual(fail('must be a decimal number from 0 to 100'));
      expect(optionError(decimalCheck, { decimalSeparator: ';' })).toBeDefined();
    });
  });

  describe('regex', () => {
    it('tests the value against the pattern', () => {
      const check = compile(regexCheck, '^[A-Z]{2}$');
      expect(check('ES')).toEqual(ok('ES'));
      expect(check('es')).toEqual(fail('does not match /^[A-Z]{2}$/'));
      const ignoreCase = compile(regexCheck, { pattern: '^[A-Z]{2}$', flags: 'i' });
      expect(ignoreCase('es')).toEqual(ok('es'));
      expect(ignoreCase('esp')).toEqual(fail('does not match /^[A-Z]{2}$/i'));
    });

    it('refuses a bad pattern when the options are validated', () => {
      expect(optionError(regexCheck, '([a-z')).toBe(
        'not a valid regular expression: Invalid regular expression: /([a-z/: Unterminated character class',
      );
      expect(optionError(regexCheck, { pattern: '(' })).toMatch(/^not a valid regular expression: /);
      expect(optionError(regexCheck, { pattern: 'a', flags: 'g' })).toMatch(/^flags among i, m, s and u/);
    });
  });

  describe('oneOf', () => {
    it('accepts the values listed', () => {
      const check = compile(oneOfCheck, ['web', 'app']);
      expect(check('web')).toEqual(ok('web'));
      expect(check('Web')).toEqual(fail('must be one of "web", "app"'));
    });

    it('can ignore case, giving the value as listed', () => {
      const check = compile(oneOfCheck, { values: ['Web', 'App'], ignoreCase: true });
      expect(check('WEB')).toEqual(ok('Web'));
      expect(check('tv')).toEqual(fail('must be one of "Web", "App"'));
    });

    it('needs at least one value', () => {
      expect(optionError(oneOfCheck, [])).toBeDefined();
    });
  });
});
