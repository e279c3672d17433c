import type { Column, ColumnType } from '../../../core/records.js';
import { quoteIdent, quoteTable, type SqlClient, type TableName } from '../../../core/sql.js';
import { POSTGRES_TYPES, postgresColumnType } from '../../../connectors/postgres/column-types.js';

/** PostgreSQL's limit on the columns of a table: https://www.postgresql.org/docs/current/limits.html */
export const POSTGRES_MAX_COLUMNS = 1600;

/** The columns of a table as the database has them, or undefined when it does not exist. */
export async function tableColumns(
  db: SqlClient,
  table: TableName,
): Promise<Map<string, string> | undefined> {
  const { rows } = await db.query<{ column_name: string; data_type: string }>(
    `SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS data_type
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [quoteTable(table)],
  );
  if (rows.length === 0) {
    const exists = await db.query(`SELECT to_regclass($1) AS t`, [quoteTable(table)]);
    if ((exists.rows[0] as { t: unknown } | undefined)?.t == null) return undefined;
  }
  return new Map(rows.map((r) => [r.column_name, r.data_type]));
}

/**
 * CREATE TABLE with the types the source or the checks gave (see {@link postgresColumnType}), and a primary
 * key when keys are given.
 */
export async function createTable(
  db: SqlClient,
  table: TableName,
  columns: readonly Column[],
  keys: readonly string[],
): Promise<void> {
  // IF NOT EXISTS is not safe against a concurrent CREATE (two pipelines of a group creating their tables in
  // one new schema fail with 23505): serialize the DDL on a transaction lock per schema.
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
    `sluice:ddl:${table.schema ?? ''}`,
  ]);
  // Looked up with a fresh snapshot: `CREATE SCHEMA IF NOT EXISTS` alone may decide on a catalog snapshot
  // taken before the lock was granted, and then fail on the schema the previous holder just committed.
  if (table.schema) {
    const { rowCount } = await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [table.schema]);
    if (rowCount === 0) await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`);
  }
  const defs = columns.map(
    (c) => `${quoteIdent(c.name)} ${postgresColumnType(c)}${keys.includes(c.name) ? ' NOT NULL' : ''}`,
  );
  if (keys.length > 0) defs.push(`PRIMARY KEY (${keys.map(quoteIdent).join(', ')})`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (${defs.join(', ')})`);
}

/** The Sluice type of a column as `format_type` spells it; undefined for types Sluice does not widen. */
export function columnTypeOf(dataType: string): ColumnType | undefined {
  const found = Object.entries(POSTGRES_TYPES).find(([, sql]) => sql === dataType);
  if (found) return found[0] as ColumnType;
  return dataType === 'timestamp without time zone' ? 'timestamp' : undefined;
}

/** ALTER TABLE … ADD COLUMN (nullable) with the column's type (see {@link postgresColumnType}). */
export async function addColumn(db: SqlClient, table: TableName, column: Column): Promise<string> {
  const type = postgresColumnType(column);
  await db.query(`ALTER TABLE ${quoteTable(table)} ADD COLUMN ${quoteIdent(column.name)} ${type}`);
  return type;
}

/** Adds a column the table lacks (concurrent loads may race: IF NOT EXISTS). */
export async function ensureColumn(db: SqlClient, table: TableName, column: Column): Promise<void> {
  await db.query(
    `ALTER TABLE ${quoteTable(table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(column.name)} ${postgresColumnType(column)}`,
  );
}

/** ALTER TABLE … ALTER COLUMN … TYPE, converting the values already there through a cast. */
export async function changeColumnType(
  db: SqlClient,
  table: TableName,
  name: string,
  type: ColumnType,
): Promise<void> {
  const sql = POSTGRES_TYPES[type];
  await db.query(
    `ALTER TABLE ${quoteTable(table)} ALTER COLUMN ${quoteIdent(name)} TYPE ${sql} USING ${quoteIdent(name)}::${sql}`,
  );
}
