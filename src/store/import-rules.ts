import { SluiceError } from '../core/errors.js';
import { checkImportRule, parseImportRule, type ImportRule } from '../core/import-rule-spec.js';
import type { Registry } from '../core/registry.js';
import type { SqlClient } from '../core/sql.js';
import { sqlState } from '../core/database-errors.js';
import type { Database } from './database.js';

/** A row of `sluice.import_rules`. */
interface RuleRow {
  name: string;
  description: string | null;
  file_pattern: string;
  file_type: string;
  source_folder: string;
  archive_folder: string;
  target_table: string;
  strategy: string;
  mode: string;
  priority: number;
  active: boolean;
  parser_options: Record<string, unknown>;
  dataset_label: string | null;
  date_from: string | null;
  date_delimiter: string | null;
  date_token: number | null;
  date_format: string | null;
  date_column: string | null;
  date_cell: string | null;
  date_value: string | null;
}

const COLUMNS = `name, description, file_pattern, file_type, source_folder, archive_folder, target_table, strategy,
  mode, priority, active, parser_options, dataset_label, date_from, date_delimiter, date_token, date_format,
  date_column, date_cell, date_value::text AS date_value`;

/** A stored row as the YAML form of the rule (what `rules export` writes and the schema checks). */
export function rowToDefinition(row: RuleRow): Record<string, unknown> {
  const def: Record<string, unknown> = {
    name: row.name,
    ...(row.description ? { description: row.description } : {}),
    filePattern: row.file_pattern,
    fileType: row.file_type,
    sourceFolder: row.source_folder,
    archiveFolder: row.archive_folder,
    targetTable: row.target_table,
    // The column keeps the name it was created with; a rule says `schema`, as a pipeline's loader does.
    schema: row.strategy,
    mode: row.mode,
    priority: row.priority,
    active: row.active,
    ...(Object.keys(row.parser_options).length > 0 ? { parser: row.parser_options } : {}),
    ...(row.dataset_label ? { datasetLabel: row.dataset_label } : {}),
  };
  const date = (() => {
    switch (row.date_from) {
      case 'filename':
        return {
          from: 'filename',
          delimiter: row.date_delimiter,
          token: row.date_token,
          format: row.date_format,
        };
      case 'column':
        return {
          from: 'column',
          column: row.date_column,
          ...(row.date_format ? { format: row.date_format } : {}),
        };
      case 'cell':
        return { from: 'cell', cell: row.date_cell, ...(row.date_format ? { format: row.date_format } : {}) };
      case 'static':
        return { from: 'static', value: row.date_value };
      default:
        return undefined;
    }
  })();
  if (date) def.datasetDate = date;
  return def;
}

function ruleParams(rule: ImportRule): unknown[] {
  const d = rule.datasetDate;
  return [
    rule.name,
    rule.description ?? null,
    rule.filePattern,
    rule.fileType,
    rule.sourceFolder,
    rule.archiveFolder,
    rule.targetTable,
    rule.schema,
    rule.mode,
    rule.priority,
    rule.active,
    JSON.stringify(rule.parser),
    rule.datasetLabel ?? null,
    d?.from ?? null,
    d?.from === 'filename' ? d.delimiter : null,
    d?.from === 'filename' ? d.token : null,
    d && d.from !== 'static' ? (d.format ?? null) : null,
    d?.from === 'column' ? d.column : null,
    d?.from === 'cell' ? d.cell : null,
    d?.from === 'static' ? d.value : null,
  ];
}

/**
 * Saves checked rules in one transaction. `insert` refuses a name that exists (naming it); `upsert`
 * replaces it.
 */
export async function saveImportRules(
  db: Database,
  rules: readonly ImportRule[],
  mode: 'insert' | 'upsert',
): Promise<void> {
  await db.transaction((tx) => writeRules(tx, rules, mode));
}

async function writeRules(tx: SqlClient, rules: readonly ImportRule[], mode: 'insert' | 'upsert') {
  {
    if (mode === 'insert') {
      const { rows } = await tx.query<{ name: string }>(
        'SELECT name FROM sluice.import_rules WHERE name = ANY($1::text[]) ORDER BY name',
        [rules.map((r) => r.name)],
      );
      if (rows.length > 0)
        throw new SluiceError(
          'CONFIG_INVALID',
          `import ${rows.length === 1 ? 'rule' : 'rules'} ${rows.map((r) => `"${r.name}"`).join(', ')} already ${rows.length === 1 ? 'exists' : 'exist'}`,
          { hint: 'Change it with `sluice rules edit NAME`, or add with --replace.' },
        );
    }
    for (const rule of rules) {
      try {
        await tx.query(
          `INSERT INTO sluice.import_rules (name, description, file_pattern, file_type, source_folder, archive_folder,
             target_table, strategy, mode, priority, active, parser_options, dataset_label, date_from, date_delimiter,
             date_token, date_format, date_column, date_cell, date_value)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, $16, $17, $18, $19, $20)
           ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, file_pattern = EXCLUDED.file_pattern,
             file_type = EXCLUDED.file_type, source_folder = EXCLUDED.source_folder,
             archive_folder = EXCLUDED.archive_folder, target_table = EXCLUDED.target_table,
             strategy = EXCLUDED.strategy, mode = EXCLUDED.mode, priority = EXCLUDED.priority,
             active = EXCLUDED.active, parser_options = EXCLUDED.parser_options,
             dataset_label = EXCLUDED.dataset_label, date_from = EXCLUDED.date_from,
             date_delimiter = EXCLUDED.date_delimiter, date_token = EXCLUDED.date_token,
             date_format = EXCLUDED.date_format, date_column = EXCLUDED.date_column,
             date_cell = EXCLUDED.date_cell, date_value = EXCLUDED.date_value, updated_at = now()`,
          ruleParams(rule),
        );
      } catch (error) {
        if (sqlState(error) === '23514')
          throw new SluiceError('CONFIG_INVALID', `import rule "${rule.name}" breaks a check of the table`, {
            cause: error,
          });
        throw error;
      }
    }
  }
}

/** A stored rule, checked, or the reason it cannot be used (a row written by hand in SQL can be wrong). */
export type StoredRule =
  | { name: string; rule: ImportRule; definition: Record<string, unknown>; problem?: undefined }
  | { name: string; rule?: undefined; definition: Record<string, unknown>; problem: string };

/** Every rule (or the active ones), highest priority first, then by name. */
export async function listImportRules(
  db: SqlClient,
  registry: Registry,
  options: { activeOnly?: boolean; names?: string[] } = {},
): Promise<StoredRule[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (options.activeOnly) where.push('active');
  if (options.names) {
    params.push(options.names);
    where.push(`name = ANY($${params.length}::text[])`);
  }
  const { rows } = await db.query<RuleRow>(
    `SELECT ${COLUMNS} FROM sluice.import_rules ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY priority DESC, name`,
    params,
  );
  return rows.map((row) => {
    const definition = rowToDefinition(row);
    const result = checkImportRule(definition, registry);
    if (result.rule) return { name: row.name, rule: result.rule, definition };
    const problem = result.problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ');
    return { name: row.name, definition, problem };
  });
}

/** One stored rule's definition, or RULE not found as CONFIG_NOT_FOUND. */
export async function getImportRuleDefinition(db: SqlClient, name: string): Promise<Record<string, unknown>> {
  const { rows } = await db.query<RuleRow>(`SELECT ${COLUMNS} FROM sluice.import_rules WHERE name = $1`, [
    name,
  ]);
  if (!rows[0]) throw noSuchRule(name);
  return rowToDefinition(rows[0]);
}

/** Switches a rule on or off. */
export async function setImportRuleActive(db: SqlClient, name: string, active: boolean): Promise<void> {
  const { rowCount } = await db.query(
    'UPDATE sluice.import_rules SET active = $2, updated_at = now() WHERE name = $1',
    [name, active],
  );
  if (rowCount === 0) throw noSuchRule(name);
}

/** Replaces a stored rule by `next` (checked), possibly under a new name. */
export async function replaceImportRule(
  db: Database,
  name: string,
  next: unknown,
  registry: Registry,
): Promise<ImportRule> {
  const rule = parseImportRule(next, registry);
  await db.transaction(async (tx) => {
    const { rowCount } = await tx.query('SELECT 1 FROM sluice.import_rules WHERE name = $1 FOR UPDATE', [
      name,
    ]);
    if (rowCount === 0) throw noSuchRule(name);
    if (rule.name !== name)
      await tx.query('UPDATE sluice.import_rules SET name = $2 WHERE name = $1', [name, rule.name]);
    await writeRules(tx, [rule], 'upsert');
  });
  return rule;
}

function noSuchRule(name: string): SluiceError {
  return new SluiceError('CONFIG_NOT_FOUND', `there is no import rule "${name}"`, {
    hint: 'See `sluice rules list`.',
  });
}
