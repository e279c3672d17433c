import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../../src/core/errors.js';
import { datasetLabel, dateFromFileName, dateFromValue, parseDate } from '../../../src/core/dataset-spec.js';
import {
  checkImportRule,
  parseImportRule,
  parseImportRulesYaml,
  ruleDataset,
} from '../../../src/core/import-rule-spec.js';
import { createRegistry } from '../../../src/plugins/index.js';

const registry = createRegistry();

const valid = {
  name: 'acme-sales',
  filePattern: '^acme_(?<client>[a-z]+)_(\\d{8})\\.csv$',
  fileType: 'csv',
  sourceFolder: '/srv/inbox',
  archiveFolder: '/srv/archive/acme',
  targetTable: 'imports.acme_sales',
  parser: { delimiter: ';', encoding: 'latin1' },
  datasetDate: { from: 'filename', delimiter: '_', token: 3, format: 'yyyyMMdd' },
};

const problemsOf = (raw: unknown) => checkImportRule(raw, registry).problems ?? [];

describe('import rule spec', () => {
  it('accepts a valid rule with defaults', () => {
    expect(parseImportRule(valid, registry)).toMatchObject({
      name: 'acme-sales',
      schema: 'evolve',
      mode: 'append',
      priority: 0,
      active: true,
    });
  });

  it('refuses a regex that does not compile, naming the rule and the field', () => {
    let error: unknown;
    try {
      parseImportRule({ ...valid, filePattern: '^acme_(\\d{8}.csv$' }, registry);
    } catch (e) {
      error = e;
    }
    expect(describeError(error)).toMatch(
      /^import rule "acme-sales": filePattern: not a valid regular expression: .*Unterminated group/,
    );
  });

  it('refuses relative folders and an archive folder equal to the source folder', () => {
    expect(problemsOf({ ...valid, sourceFolder: 'inbox' })).toEqual([
      { path: ['sourceFolder'], message: 'an absolute path (starting with /) (found "inbox")' },
    ]);
    expect(() => parseImportRule({ ...valid, archiveFolder: '/srv/inbox/' }, registry)).toThrow(
      'archiveFolder: the archive folder must differ from the source folder (/srv/inbox) (found "/srv/inbox/")',
    );
  });

  it('refuses an unknown schema strategy and file type, listing the known ones', () => {
    expect(problemsOf({ ...valid, schema: 'merge', fileType: 'ods' })).toEqual([
      { path: ['fileType'], message: 'the file type: csv, xlsx, xls (found "ods")' },
      { path: ['schema'], message: 'the schema strategy: evolve, ignore_new, strict (found "merge")' },
    ]);
  });

  it('answers the old strategy key with the one to write', () => {
    expect(problemsOf({ ...valid, strategy: 'strict' })).toEqual([
      { path: ['strategy'], message: 'renamed: write schema', onKey: true },
    ]);
  });

  it('refuses incomplete or wrong date settings, naming the missing field', () => {
    expect(problemsOf({ ...valid, datasetDate: { from: 'filename', delimiter: '_' } })).toEqual([
      {
        path: ['datasetDate', 'token'],
        message: 'which part of the split name holds the date (1 is the first)',
      },
      { path: ['datasetDate', 'format'], message: 'missing (expected string)' },
    ]);
    expect(problemsOf({ ...valid, datasetDate: { from: 'column' } })).toEqual([
      {
        path: ['datasetDate', 'column'],
        message: 'the column (as the file names it) holding the date (missing)',
      },
    ]);
    expect(problemsOf({ ...valid, datasetDate: { from: 'static', value: '2024-02-30' } })).toEqual([
      { path: ['datasetDate', 'value'], message: 'a real date written yyyy-MM-dd (found "2024-02-30")' },
    ]);
    expect(problemsOf({ ...valid, datasetDate: { from: 'mail' } })[0]).toMatchObject({
      path: ['datasetDate', 'from'],
      message: 'where the date comes from: filename, column, cell or static (found "mail")',
    });
    expect(
      problemsOf({ ...valid, datasetDate: { from: 'filename', delimiter: '_', token: 2, format: 'yyyyQQ' } }),
    ).toEqual([
      { path: ['datasetDate', 'format'], message: expect.stringMatching(/needs a year .* a month/) },
    ]);
  });

  it('checks parser options against the parser of the file type', () => {
    expect(problemsOf({ ...valid, parser: { delimiter: ';;' } })).toEqual([
      { path: ['parser', 'delimiter'], message: expect.stringMatching(/1 character/) },
    ]);
    expect(problemsOf({ ...valid, fileType: 'xlsx', parser: { delimiter: ';' } })).toEqual([
      {
        path: ['parser', 'delimiter'],
        message: 'unknown key; expected one of: sheet, headerRow, skipRows, columns, expectHeader, batchSize',
        onKey: true,
      },
    ]);
    expect(problemsOf({ ...valid, fileType: 'xlsx', parser: { sheet: 'Data', headerRow: 3 } })).toEqual([]);
  });

  it('refuses Sluice’s own schema and quoted names as the target', () => {
    expect(problemsOf({ ...valid, targetTable: 'sluice.files' })[0]?.path).toEqual(['targetTable']);
    expect(problemsOf({ ...valid, targetTable: 'a"b' })[0]?.path).toEqual(['targetTable']);
  });
});

describe('rules YAML', () => {
  const file = 'rules.yaml';
  it('reads rules with ${VAR} folders', () => {
    const text = `rules:
  - name: a
    filePattern: '^a.*\\.csv$'
    fileType: csv
    sourceFolder: \${INBOX}
    archiveFolder: \${INBOX}/archive
    targetTable: a
`;
    const rules = parseImportRulesYaml(text, { file, env: { INBOX: '/data/in' }, registry });
    expect(rules[0]).toMatchObject({ sourceFolder: '/data/in', archiveFolder: '/data/in/archive' });
  });

  it('reads relative folders from the folder of the rules file, and refuses a rule given twice', () => {
    const text = `rules:
  - name: a
    filePattern: '^a'
    fileType: csv
    sourceFolder: inbox
    archiveFolder: ../archive/a
    targetTable: a
  - name: a
    filePattern: '^b'
    fileType: csv
    sourceFolder: /in
    archiveFolder: /arch
    targetTable: b
`;
    let message = '';
    try {
      parseImportRulesYaml(text, { file: 'imports/rules.yaml', env: {}, registry });
    } catch (error) {
      message = describeError(error);
    }
    expect(message).toBe('imports/rules.yaml:8:11: rules[1].name: rule "a" is given twice');
    const [rule] = parseImportRulesYaml(text.split("  - name: a\n    filePattern: '^b'")[0]!, {
      file: 'imports/rules.yaml',
      env: {},
      registry,
    });
    expect(rule).toMatchObject({
      sourceFolder: path.resolve('imports/inbox'),
      archiveFolder: path.resolve('archive/a'),
    });
  });

  it('lists every bad rule with its line, name and field', () => {
    const text = `rules:
  - name: good
    filePattern: '^g'
    fileType: csv
    sourceFolder: /in
    archiveFolder: /arch
    targetTable: g
  - name: bad-regex
    filePattern: '([a-z'
    fileType: csv
    sourceFolder: /in
    archiveFolder: /arch
    targetTable: b
  - name: same-folders
    filePattern: '^s'
    fileType: xlsx
    sourceFolder: /in
    archiveFolder: /in
    targetTable: s
`;
    let message = '';
    try {
      parseImportRulesYaml(text, { file, env: {}, registry });
    } catch (error) {
      message = describeError(error);
    }
    expect(message.split('\n')).toEqual([
      'rules.yaml: the import rules are invalid (2 problems):',
      expect.stringMatching(/^ {2}9:18 rules\[1\]\.filePattern: not a valid regular expression/),
      '  18:20 rules[2].archiveFolder: the archive folder must differ from the source folder (/in) (found "/in")',
    ]);
  });

  it('refuses a file without rules, and YAML syntax errors with their line', () => {
    expect(() => parseImportRulesYaml('reports: []', { file, env: {}, registry })).toThrow(/`rules:`/);
    let syntax: unknown;
    try {
      parseImportRulesYaml('rules: [\n  {name: a', { file, env: {}, registry });
    } catch (error) {
      syntax = error;
    }
    expect(describeError(syntax)).toMatch(/^rules\.yaml:2:11: the YAML cannot be read: /);
  });
});

describe('dataset dates and labels', () => {
  it('reads dates with a format', () => {
    expect(parseDate('20240131', 'yyyyMMdd')).toBe('2024-01-31');
    expect(parseDate('31/01/24', 'dd/MM/yy')).toBe('2024-01-31');
    expect(parseDate('1.2.2024', 'd.M.yyyy')).toBe('2024-02-01');
    expect(parseDate('20240230', 'yyyyMMdd')).toBeUndefined();
    expect(parseDate('2024013', 'yyyyMMdd')).toBeUndefined();
  });

  it('takes token N of the name without its extension', () => {
    const spec = { from: 'filename', delimiter: '_', token: 3, format: 'yyyyMMdd' } as const;
    expect(dateFromFileName(spec, 'acme_sales_20240131.csv')).toBe('2024-01-31');
    expect(() => dateFromFileName(spec, 'acme_20240131.csv')).toThrow(/2 parts split on "_", no part 3/);
    expect(() => dateFromFileName(spec, 'acme_sales_2024.csv')).toThrow(
      /"2024"\) is not a date written yyyyMMdd/,
    );
  });

  it('reads content dates as ISO or with a format', () => {
    expect(dateFromValue('2024-01-31 00:00:00', undefined)).toBe('2024-01-31');
    expect(dateFromValue('31.01.2024', 'dd.MM.yyyy')).toBe('2024-01-31');
    expect(dateFromValue('31.01.2024', undefined)).toBeUndefined();
  });

  it('fills the label template from the pattern groups', () => {
    const rule = parseImportRule({ ...valid, datasetLabel: 'sales-{client}-{2}-{rule}' }, registry);
    expect(datasetLabel(ruleDataset(rule), 'import.acme-sales', 'acme_north_20240131.csv')).toBe(
      'sales-north-20240131-acme-sales',
    );
    expect(datasetLabel(ruleDataset(parseImportRule(valid, registry)), 'import.acme-sales', 'x.csv')).toBe(
      'acme-sales',
    );
  });
});
