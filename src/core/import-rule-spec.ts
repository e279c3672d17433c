import path from 'node:path';
import { z } from 'zod';
import { ConfigReader, type ConfigProblem, type KeyPath } from './config-file.js';
import { datasetDateSchema, type DatasetSpec } from './dataset-spec.js';
import { pathOption } from './path-option.js';
import { regexOption } from './regex.js';
import type { Registry } from './registry.js';
import { withRenamedKeys } from './renamed-keys.js';

// Import rules (seed 003's import configuration): which files of an inbox folder go to which table, how they
// are read, and what dataset they become. Written in YAML (`rules:` a list), kept in sluice.import_rules.

/** The parser each file type goes through. */
export const FILE_TYPES = ['csv', 'xlsx', 'xls'] as const;
export type FileType = (typeof FILE_TYPES)[number];

/** The loader's schema strategies (`load.schema` of a pipeline) an import can use. */
export const IMPORT_SCHEMAS = ['evolve', 'ignore_new', 'strict'] as const;
export type ImportSchema = (typeof IMPORT_SCHEMAS)[number];

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
export const importRuleSchema = withRenamedKeys(
  'importRule',
  z
    .strictObject({
      name: z
        .string({ error: 'a rule needs a name' })
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a name of letters, digits, "_", "." or "-" (at most 63)')
        .describe('Unique name of the rule.'),
      description: z.string().optional().describe('What the rule is for.'),
      filePattern: regexOption('a regular expression the file name must match').describe(
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
      schema: z
        .enum(IMPORT_SCHEMAS, { error: `the schema strategy: ${IMPORT_SCHEMAS.join(', ')}` })
        .default('evolve')
        .describe(
          "What to do with the table's schema, as the postgres loader's schema option: evolve: add new columns and widen types; ignore_new: load only the columns the table has; strict: refuse a file whose columns differ.",
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
        .describe(
          'Options of the csv, xlsx or xls parser: delimiter, encoding, sheet, headerRow, skipRows, …',
        ),
      datasetLabel: z
        .string()
        .min(1)
        .optional()
        .describe(
          'The dataset label: {rule}, {name} (the file name) and the pattern groups ({1}, {client}) are filled in. The rule name by default.',
        ),
      datasetDate: datasetDateSchema
        .optional()
        .describe('Where the dataset date comes from; none by default.'),
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
    }),
);

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

/** The `dataset:` section of the pipeline a rule imports its files with. */
export function ruleDataset(rule: ImportRule): DatasetSpec {
  return {
    label: rule.datasetLabel ?? '{rule}',
    match: rule.filePattern,
    rule: rule.name,
    ...(rule.datasetDate ? { date: rule.datasetDate } : {}),
  };
}
