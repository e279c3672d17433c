import type { Column, ColumnType, SqlBaseType, SqlType } from '../../core/records.js';
import { columnTypeOfSql, sqlTypeFits } from '../../core/records.js';

/** PostgreSQL types for the types checks give (and for a column nothing is known of: text). */
export const POSTGRES_TYPES: Record<ColumnType, string> = {
  text: 'text',
  integer: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamp',
  json: 'jsonb',
};

// https://www.postgresql.org/docs/current/datatype-numeric.html: a declared precision goes up to 1000.
const MAX_NUMERIC_PRECISION = 1000;

/** The PostgreSQL declaration of a portable type. */
export function postgresTypeOfSql(type: SqlType): string {
  const fraction = (name: string, zone = '') =>
    type.precision !== undefined ? `${name}(${type.precision})${zone}` : `${name}${zone}`;
  let sql: string;
  switch (type.base) {
    case 'numeric':
      sql =
        type.precision !== undefined && type.precision <= MAX_NUMERIC_PRECISION
          ? `numeric(${type.precision},${type.scale ?? 0})`
          : 'numeric';
      break;
    case 'double':
      sql = 'double precision';
      break;
    case 'time':
      sql = fraction('time');
      break;
    case 'timestamp':
      sql = fraction('timestamp');
      break;
    case 'timestamptz':
      sql = fraction('timestamp', ' with time zone');
      break;
    default:
      sql = type.base;
  }
  return type.array ? `${sql}[]` : sql;
}

/**
 * The type a new column gets: the source's own declaration when the source is PostgreSQL too, else the
 * mapping of its portable type, else the type the checks gave (text when none).
 */
export function postgresColumnType(column: Column): string {
  const sql = sqlTypeFits(column);
  if (sql?.native?.dialect === 'postgres') return sql.native.type;
  if (sql) return postgresTypeOfSql(sql);
  return POSTGRES_TYPES[column.type ?? 'text'];
}

const BASE_BY_NAME: Record<string, SqlBaseType> = {
  bool: 'boolean',
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  numeric: 'numeric',
  float4: 'real',
  float8: 'double',
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  date: 'date',
  time: 'time',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
  interval: 'interval',
  json: 'json',
  jsonb: 'jsonb',
  uuid: 'uuid',
};

/** A result column as `pg` describes it. */
export interface PostgresField {
  name: string;
  dataTypeID: number;
  dataTypeModifier: number;
}

/** What the catalog says of one result column's type (a domain is read as its base type). */
interface CatalogType {
  /** `format_type`: the declaration, `numeric(12,2)`, `timestamp with time zone`, `integer[]`. */
  declared: string;
  name: string;
  /** The element's type name, for an array. */
  element: string | null;
  /** A type of pg_catalog (not an enum, domain or extension type of the source database). */
  builtin: boolean;
  typmod: number;
}

/**
 * The columns of a result with their types in detail, from the source's catalog: the portable type, and the
 * exact declaration for a PostgreSQL target when the type is built in. `query` runs one statement.
 */
export async function describePostgresColumns(
  query: (text: string, params: unknown[]) => Promise<{ rows: CatalogType[] }>,
  fields: readonly PostgresField[],
): Promise<Column[]> {
  if (fields.length === 0) return [];
  const { rows } = await query(
    `SELECT format_type(b.oid, m.typmod) AS declared, b.typname AS name, e.typname AS element,
            b.typnamespace = 'pg_catalog'::regnamespace AS builtin, m.typmod
       FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS f(oid, typmod, i)
       JOIN pg_type d ON d.oid = f.oid
       CROSS JOIN LATERAL (SELECT CASE WHEN d.typtype = 'd' THEN d.typbasetype ELSE d.oid END AS oid,
                                  CASE WHEN d.typtype = 'd' THEN d.typtypmod ELSE f.typmod END AS typmod) m
       JOIN pg_type b ON b.oid = m.oid
       LEFT JOIN pg_type e ON e.oid = b.typelem AND b.typcategory = 'A'
      ORDER BY f.i`,
    [fields.map((f) => f.dataTypeID), fields.map((f) => f.dataTypeModifier)],
  );
  return fields.map((field, i) => {
    const type = rows[i] ? sqlTypeOf(rows[i]) : undefined;
    return type ? { name: field.name, type: columnTypeOfSql(type), sqlType: type } : { name: field.name };
  });
}

function sqlTypeOf(c: CatalogType): SqlType {
  const base = BASE_BY_NAME[c.element ?? c.name] ?? 'text';
  const type: SqlType = { base, ...(c.element ? { array: true } : {}) };
  // https://github.com/postgres/postgres/blob/master/src/backend/utils/adt/numeric.c (make_numeric_typmod)
  if (base === 'numeric' && c.typmod >= 4) {
    const precision = ((c.typmod - 4) >> 16) & 0xffff;
    const scale = (c.typmod - 4) & 0xffff;
    if (scale <= precision) Object.assign(type, { precision, scale });
  }
  if ((base === 'time' || base === 'timestamp' || base === 'timestamptz') && c.typmod >= 0)
    type.precision = c.typmod;
  if (c.builtin) type.native = { dialect: 'postgres', type: c.declared };
  return type;
}
