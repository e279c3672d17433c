import path from 'node:path';
import { z } from 'zod';
import { ConfigReader, type ConfigProblem, type KeyPath } from './config-file.js';
import { isIsoDate } from './dates.js';
import { SluiceError } from './errors.js';
import { pathOption } from './path-option.js';
import type { Registry } from './registry.js';

// Import rules (seed 003's import configuration): which files of an inbox folder go to which table, how they
// are read, and what dataset they become. Written in YAML (`rules:` a list), kept in sluice.import_rules.

/** The parser each file type goes through. */
export const FILE_TYPES = ['csv', 'xlsx', 'xls'] as const;
export type FileType = (typeof FILE_TYPES)[number];

/** The loader's schema strategies an import can use. */
export const STRATEGIES = ['evolve', 'ignore_new', 'strict'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/**
 * A date format of `yyyy`/`yy`, `MM`/`M` and `dd`/`d` tokens with literal characters between them, such as
 * `yyyyMMdd` or `dd/MM/yyyy`.
 */
export function dateFormatProblem(format: string): string | undefined {
  const tokens = format.match(/yyyy|yy|MM|M|dd|d/g) ?? [];
  const has = (t: RegExp) => tokens.some((x) => t.test(x));
  if (!has(/^y/) || !has(/^M/) || !has(/^d/))
    return 'a date format needs a year (yyyy or yy), a month (MM) and a day (dd), such as yyyyMMdd';
  if (/[a-zA-Z]/.test(format.replace(/yyyy|yy|MM|M|dd|d/g, '')))
    return 'a date format knows only yyyy, yy, MM, M, dd and d (other letters must not appear)';
  return undefined;
}

/** Reads `text` with `format` (see {@link dateFormatProblem}) as `YYYY-MM-DD`; undefined if it does not fit. */
export function parseDate(text: string, format: string): string | undefined {
  const groups: string[] = [];
  const source = format.replace(/yyyy|yy|MM|M|dd|d|[^ymd]/g, (t) => {
    if (/^[yMd]+$/.test(t)) {
      groups.push(t[0]!);
      return t.length === 4 ? '(\\d{4})' : t.length === 2 ? '(\\d{2})' : '(\\d{1,2})';
    }
    return t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  const m = new RegExp(`^${source}$`).exec(text.trim());
  if (!m) return undefined;
  const part = (k: string) => m[groups.indexOf(k) + 1]!;
  let year = part('y');
  if (year.length === 2) year = `20${year}`;
  const iso = `${year}-${part('M').padStart(2, '0')}-${part('d').padStart(2, '0')}`;
  return isIsoDate(iso) ? iso : undefined;
}

const dateFormat = z.string().superRefine((value, ctx) => {
  const problem = dateFormatProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const datasetDateSchema = z.discriminatedUnion(
  'from',
  [
    z.strictObject({
      from: z.literal('filename'),
      delimiter: z
        .string({ error: 'the character(s) the file name is split on, such as "_"' })
        .min(1, 'the character(s) the file name is split on, such as "_"'),
      token: z
        .number({ error: 'which part of the split name holds the date (1 is the first)' })
        .int()
        .min(1, 'parts are counted from 1'),
      format: dateFormat.describe('How the part writes the date, such as yyyyMMdd.'),
    }),
    z.strictObject({
      from: z.literal('column'),
      column: z.string({ error: 'the column (as the file names it) holding the date' }).min(1),
      format: dateFormat.optional().describe('How the column writes the date; ISO (yyyy-MM-dd) by default.'),
    }),
    z.strictObject({
      from: z.literal('cell'),
      cell: z
        .string({ error: 'the cell holding the date, such as B2' })
        .regex(/^[A-Za-z]{1,3}[1-9][0-9]{0,6}$/, 'a cell reference such as B2'),
      format: dateFormat.optional().describe('How the cell writes the date; ISO (yyyy-MM-dd) by default.'),
    }),
    z.strictObject({
      from: z.literal('static'),
      value: z
        .string({ error: 'the date, as yyyy-MM-dd' })
        .refine(isIsoDate, 'a real date written yyyy-MM-dd'),
    }),
  ],
  { error: 'where the date comes from: filename, column, cell or static' },
);

export type DatasetDateSpec = z.output<typeof datasetDateSchema>;

// Absolute in a rule as stored; a rules file may give them relative to its own folder.
const folder = (what: string) =>
  pathOption(
    z
      .string({ error: `the ${what} folder, an absolute path` })
      .min(1)
      .refine((p) => path.isAbsolute(p), 'an absolute path (starting with /)'),
  );

const tablePart = /^[^\s."\0][^."\0]{0,62}$/;

/** One import rule as written in YAML (camelCase keys) and as {@link ruleToRow} stores it. */
export const importRuleSchema = z
  .strictObject({
    name: z
      .string({ error: 'a rule needs a name' })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a name of letters, digits, "_", "." or "-" (at most 63)')
      .describe('Unique name of the rule.'),
    description: z.string().optional().describe('What the rule is for.'),
    filePattern: z
      .string({ error: 'a regular expression the file name must match' })
      .min(1)
      .superRefine((pattern, ctx) => {
        try {
          new RegExp(pattern);
        } catch (error) {
          ctx.addIssue({
            code: 'custom',
            message: `the regular expression does not compile: ${(error as Error).message}`,
          });
        }
      })
      .describe(
        'A JavaScript regular expression tested against the base name, such as ^sales_\\d{8}\\.csv$.',
      ),
    fileType: z
      .enum(FILE_TYPES, { error: `the file type: ${FILE_TYPES.join(', ')}` })
      .describe('How the file is read: csv, xlsx or xls.'),
    sourceFolder: folder('source').describe('The inbox folder the watcher watches.'),
    archiveFolder: folder('archive').describe('Where an imported file is moved after its load committed.'),
    targetTable: z
      .string({ error: 'the target table, `table` or `schema.table`' })
      .refine((t) => {
        const parts = t.split('.');
        return parts.length <= 2 && parts.every((p) => tablePart.test(p));
      }, 'a table name, `table` or `schema.table` (at most 63 characters each, no quotes)')
      .refine((t) => !t.toLowerCase().startsWith('sluice.'), "Sluice's own schema is not a target")
      .describe('Where the rows go; created when missing.'),
    strategy: z
      .enum(STRATEGIES, { error: `the strategy: ${STRATEGIES.join(', ')}` })
      .default('evolve')
      .describe(
        'evolve: add new columns and widen types; ignore_new: load only the columns the table has; strict: refuse a file whose columns differ.',
      ),
    mode: z
      .enum(['append', 'replace'], { error: 'the mode: append or replace' })
      .default('append')
      .describe("append: add the file's rows; replace: the file's rows replace the table's."),
    priority: z.number().int().default(0).describe('When several rules match a file, the highest wins.'),
    active: z.boolean().default(true).describe('An inactive rule is kept but matches nothing.'),
    parser: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Options of the csv, xlsx or xls parser: delimiter, encoding, sheet, headerRow, skipRows, …'),
    datasetLabel: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The dataset label: {rule}, {name} (the file name) and the pattern groups ({1}, {client}) are filled in. The rule name by default.',
      ),
    datasetDate: datasetDateSchema.optional().describe('Where the dataset date comes from; none by default.'),
  })
  .superRefine((rule, ctx) => {
    if (path.resolve(rule.sourceFolder) === path.resolve(rule.archiveFolder))
      ctx.addIssue({
        code: 'custom',
        path: ['archiveFolder'],
        message: `the archive folder must differ from the source folder (${rule.sourceFolder})`,
      });
    if (rule.datasetDate?.from === 'column' && rule.fileType === 'csv' && rule.parser.header === false)
      ctx.addIssue({
        code: 'custom',
        path: ['datasetDate', 'column'],
        message: 'a file without a header has no named columns: use from: cell',
      });
  });

export type ImportRule = z.output<typeof importRuleSchema>;

/** A problem in a rule: where (a path of keys) and what. */
export type RuleProblem = ConfigProblem;

/** The rule at key path `at` of `reader`, its parser options checked against its file type's parser. */
function checkRuleAt(reader: ConfigReader, registry: Registry, value: unknown, at: KeyPath) {
  const rule = reader.check(importRuleSchema, value, at);
  if (!rule) return undefined;
  const parser = registry.get('parser', rule.fileType);
  return reader.check(parser.options, rule.parser, [...at, 'parser']) === undefined ? undefined : rule;
}

/**
 * Checks one rule as stored or given (its folders absolute), with its parser options against the parser
 * of its file type. Returns the rule, or the problems (never both).
 */
export function checkImportRule(
  raw: unknown,
  registry: Registry,
): { rule: ImportRule; problems?: undefined } | { rule?: undefined; problems: RuleProblem[] } {
  const reader = ConfigReader.fromValue(raw, { file: 'import rule', keepPaths: true });
  const rule = checkRuleAt(reader, registry, raw, []);
  return rule && reader.problems.length === 0 ? { rule } : { problems: reader.problems };
}

/** {@link checkImportRule}, throwing CONFIG_INVALID that names the rule (or `where`) and every field at fault. */
export function parseImportRule(raw: unknown, registry: Registry, where?: string): ImportRule {
  const reader = ConfigReader.fromValue(raw, {
    file: where ?? `import rule ${ruleName(raw)}`,
    keepPaths: true,
  });
  const rule = checkRuleAt(reader, registry, raw, []);
  reader.finish('the import rule is invalid');
  return rule!;
}

function ruleName(raw: unknown): string {
  const name = (raw as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== '' ? `"${name}"` : '(unnamed)';
}

const rulesFileSchema = z.strictObject({
  rules: z
    .array(z.unknown(), { error: 'a rules file has `rules:`, a list of import rules' })
    .min(1, 'a rules file has `rules:`, a list of import rules'),
});

/**
 * Reads a rules file (`rules:` a list of rules), filling `${VAR}` references from `env` (a rule stores the
 * folders it was given, so the watcher needs no environment); a relative folder is read from the file's
 * folder. Throws CONFIG_INVALID listing every problem of every rule with its line and key path, or
 * ENV_MISSING.
 */
export function parseImportRulesYaml(
  text: string,
  options: { file: string; env: Record<string, string | undefined>; registry: Registry },
): ImportRule[] {
  const reader = ConfigReader.fromText(text, { file: options.file, env: options.env });
  const file = reader.check(rulesFileSchema, reader.value, []);
  const rules: ImportRule[] = [];
  const names = new Set<string>();
  for (const [i, value] of (file?.rules ?? []).entries()) {
    const rule = checkRuleAt(reader, options.registry, value, ['rules', i]);
    if (!rule) continue;
    if (names.has(rule.name))
      reader.add({ path: ['rules', i, 'name'], message: `rule "${rule.name}" is given twice` });
    names.add(rule.name);
    rules.push(rule);
  }
  reader.finish('the import rules are invalid');
  return rules;
}

/** The label of a file's dataset: the rule's template with {rule}, {name} and the pattern's groups filled. */
export function datasetLabel(rule: ImportRule, fileName: string): string {
  const template = rule.datasetLabel ?? '{rule}';
  const match = new RegExp(rule.filePattern).exec(fileName);
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, key: string) => {
    if (key === 'rule') return rule.name;
    if (key === 'name') return fileName;
    const group = /^\d+$/.test(key) ? match?.[Number(key)] : match?.groups?.[key];
    return group ?? whole;
  });
}

/** The date part of a file name as `from: filename` settings say, as `YYYY-MM-DD`. Throws LAYOUT_MISMATCH. */
export function dateFromFileName(
  spec: Extract<DatasetDateSpec, { from: 'filename' }>,
  fileName: string,
): string {
  const stem = fileName.slice(0, fileName.length - path.extname(fileName).length);
  const parts = stem.split(spec.delimiter);
  const part = parts[spec.token - 1];
  const date = part === undefined ? undefined : parseDate(part, spec.format);
  if (date) return date;
  throw new SluiceError(
    'LAYOUT_MISMATCH',
    part === undefined
      ? `the file name has ${parts.length} parts split on "${spec.delimiter}", no part ${spec.token} to read the dataset date from`
      : `part ${spec.token} of the file name ("${part}") is not a date written ${spec.format}`,
    { where: fileName, hint: 'Rename the file, or fix datasetDate in the import rule.' },
  );
}

/** A date read from the content (a cell or column value): ISO text, or text in the given format. */
export function dateFromValue(
  value: string | null | undefined,
  format: string | undefined,
): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  const iso = /^(\d{4}-\d{2}-\d{2})(?:[ T].*)?$/.exec(text)?.[1];
  if (iso && isIsoDate(iso)) return iso;
  return format ? parseDate(text, format) : undefined;
}
