import { SluiceError } from '../../../core/errors.js';
import type { Column } from '../../../core/records.js';
import type { TableName } from '../../../core/sql.js';
import { mysqlColumnType } from '../../../connectors/mysql/column-types.js';
import type { MysqlConnection } from '../../../connectors/mysql/mysql-connection.js';
import { quoteMysqlIdent, quoteMysqlTable } from '../../../connectors/mysql/mysql-ident.js';

/** `DATABASE()` when the table names none; a missing database is a configuration error. */
export async function databaseOf(conn: MysqlConnection, table: TableName): Promise<string> {
  if (table.schema) return table.schema;
  const [row] = await conn.select<{ db: string | null }>('SELECT DATABASE() AS db');
  if (!row?.db) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `load.table: ${table.name} names no database, and load.url gives none`,
      {
        hint: 'Write the URL as mysql://host/database, or the table as database.table.',
      },
    );
  }
  return row.db;
}

/** A column as information_schema has it. */
export interface MysqlColumn {
  type: string;
  /** The character set of a text column (`utf8mb4`, `latin1`…); null for other types. */
  charset: string | null;
}

/** The columns of a table, or undefined when it does not exist (information_schema lists no temporary table). */
export async function mysqlTableColumns(
  conn: MysqlConnection,
  database: string,
  table: string,
): Promise<Map<string, MysqlColumn> | undefined> {
  const rows = await conn.select<{ name: string; type: string; charset: string | null }>(
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, CHARACTER_SET_NAME AS charset
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [database, table],
  );
  if (rows.length === 0) return undefined;
  return new Map(rows.map((r) => [r.name, { type: r.type, charset: r.charset }]));
}

/** The column lists of the table's primary key and unique indexes. */
export async function uniqueKeys(
  conn: MysqlConnection,
  database: string,
  table: string,
): Promise<string[][]> {
  const rows = await conn.select<{ idx: string; col: string }>(
    `SELECT INDEX_NAME AS idx, COLUMN_NAME AS col FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [database, table],
  );
  const byIndex = new Map<string, string[]>();
  for (const r of rows) byIndex.set(r.idx, [...(byIndex.get(r.idx) ?? []), r.col]);
  return [...byIndex.values()];
}

/**
 * A binary, no-pad collation: keys compare like PostgreSQL's text (case and trailing spaces count), so merge
 * matches the same rows on both. MariaDB has utf8mb4_nopad_bin, MySQL 8 utf8mb4_0900_bin.
 */
export async function binaryCollation(conn: MysqlConnection): Promise<string> {
  const rows = await conn.select<{ name: string }>(
    `SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS
      WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`,
  );
  return rows[0]?.name ?? 'utf8mb4_bin';
}

/**
 * CREATE TABLE IF NOT EXISTS with the source's or the checks' types (see {@link mysqlColumnType}) and a primary
 * key on the merge keys (InnoDB, utf8mb4).
 */
export async function createMysqlTable(
  conn: MysqlConnection,
  table: TableName,
  columns: readonly Column[],
  keys: readonly string[],
  options: { temporary?: boolean } = {},
): Promise<void> {
  const defs = columns.map((c) => {
    const isKey = keys.includes(c.name);
    return `${quoteMysqlIdent(c.name)} ${mysqlColumnType(c, isKey)}${isKey ? ' NOT NULL' : ''}`;
  });
  if (keys.length > 0) defs.push(`PRIMARY KEY (${keys.map(quoteMysqlIdent).join(', ')})`);
  const collation = await binaryCollation(conn);
  await conn.run(
    `CREATE ${options.temporary ? 'TEMPORARY ' : ''}TABLE IF NOT EXISTS ${quoteMysqlTable(table)} (${defs.join(', ')})
       ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}`,
  );
}

/** The table of load markers: one row per unit loaded, committed with the unit's rows. */
export const MARKER_TABLE = '_sluice_loads';

/** Creates the marker table when missing; `temporary` (a dry run) makes a missing one for this connection only. */
export async function ensureMarkerTable(
  conn: MysqlConnection,
  database: string,
  options: { temporary?: boolean } = {},
): Promise<void> {
  const collation = await binaryCollation(conn);
  if (options.temporary) {
    const [found] = await conn.select(
      'SELECT 1 AS found FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [database, MARKER_TABLE],
    );
    if (found) return;
  }
  await conn.run(
    `CREATE ${options.temporary ? 'TEMPORARY ' : ''}TABLE IF NOT EXISTS ${quoteMysqlTable({ schema: database, name: MARKER_TABLE })} (
       target VARCHAR(192) NOT NULL COMMENT 'the table loaded',
       unit_key VARCHAR(255) NOT NULL COMMENT 'the unit (a file''s SHA-256)',
       run_id VARCHAR(64) NOT NULL,
       origin VARCHAR(1024) NOT NULL,
       rows_loaded BIGINT NOT NULL,
       loaded_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
       PRIMARY KEY (target, unit_key)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}
       COMMENT 'Sluice: units loaded here, so that a retry or a rerun loads each once'`,
  );
}

/** The columns of a table this connection created TEMPORARY (a dry run): SHOW COLUMNS sees it. */
export async function temporaryTableColumns(
  conn: MysqlConnection,
  table: TableName,
): Promise<Map<string, MysqlColumn>> {
  const rows = await conn.select<{ Field: string; Type: string; Collation: string | null }>(
    `SHOW FULL COLUMNS FROM ${quoteMysqlTable(table)}`,
  );
  // A collation names its character set first: utf8mb4_nopad_bin.
  return new Map(rows.map((r) => [r.Field, { type: r.Type, charset: r.Collation?.split('_')[0] ?? null }]));
}
