import type { Column, Value } from '../../../core/records.js';
import { SluiceError } from '../../../core/errors.js';
import { mysqlDriverOptions, parseMysqlUrl } from '../../../connectors/mysql/mysql-connection.js';
import { classifyMysqlError } from '../../../connectors/mysql/mysql-errors.js';
import { quoteMysqlIdent } from '../../../connectors/mysql/mysql-ident.js';
import {
  describeMysqlColumn,
  isMysqlTimestamp,
  isMysqlTinyintOne,
  MYSQL_DATE_CODES,
  type MysqlField,
} from '../../../connectors/mysql/column-types.js';
import type { ReadFrom, SqlSourceOptions } from './sql-options.js';
import { incrementalField, type SourceRead, type SqlReader } from './sql-reader.js';

/**
 * Reads from MySQL/MariaDB in one consistent-snapshot transaction (InnoDB REPEATABLE READ): the watermark and
 * the streamed rows see the same data. Values come as text (dates, decimals and big integers unchanged), in
 * UTC; a TIMESTAMP value carries `+00` so that it stays the same instant wherever it goes.
 */
export async function openMysqlReader(options: SqlSourceOptions, location: string): Promise<SqlReader> {
  const mysql = await import('mysql2');
  const server = parseMysqlUrl(options.url, 'source.url');
  const fail = (error: unknown) => classifyMysqlError(error, location, 'source.url');
  // A connection per read: a retry after a dropped connection starts on a fresh one.
  let current: ReturnType<typeof mysql.createConnection> | undefined;
  const connect = async () => {
    if (current)
      await current
        .promise()
        .end()
        .catch(() => current?.destroy());
    const connection = mysql.createConnection({ ...mysqlDriverOptions(server), timezone: 'Z' });
    connection.on('error', () => undefined); // surfaces through the running query
    await connection
      .promise()
      .connect()
      .catch((error: unknown) => {
        throw fail(error);
      });
    current = connection;
    return connection;
  };
  const base = options.table
    ? `SELECT ${options.columns ? options.columns.map(quoteMysqlIdent).join(', ') : '*'} FROM ${options.table
        .split('.')
        .map(quoteMysqlIdent)
        .join('.')}`
    : options.query!;
  const typeOptions = { tinyint1AsBoolean: options.tinyint1AsBoolean ?? false };

  return {
    async read(from: ReadFrom, signal: AbortSignal): Promise<SourceRead> {
      const connection = await connect();
      const db = connection.promise();
      try {
        await db.query("SET SESSION time_zone = '+00:00'");
        await db.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await db.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
        const [, described] = await db.query({
          sql: `SELECT * FROM (${base}) AS sluice_source LIMIT 0`,
          rowsAsArray: true,
        });
        const fields = (described ?? []) as unknown as MysqlField[];
        const columns: Column[] = fields.map((f) => describeMysqlColumn(f, typeOptions));
        const convert = fields.map((f) => converter(f, typeOptions));
        const { where, params } = filter(from, fields);
        const source = `(${base}) AS sluice_source${where ? ` WHERE ${where}` : ''}`;
        let watermark: string | undefined;
        if (options.incrementalColumn) {
          const [rows] = await db.query({
            sql: `SELECT CAST(MAX(${quoteMysqlIdent(options.incrementalColumn)}) AS CHAR) AS wm FROM ${source}`,
            values: params,
          });
          watermark = ((rows as { wm: string | null }[])[0]?.wm ?? undefined) || undefined;
        }
        const stream = connection
          .query({ sql: `SELECT * FROM ${source}`, values: params, rowsAsArray: true })
          .stream({ highWaterMark: Math.min(options.batchSize, 10_000) });
        const abort = () => stream.destroy(new SluiceError('ABORTED', 'the run was stopped'));
        signal.addEventListener('abort', abort, { once: true });
        // mysql2 reports a lost connection on the connection only: the row stream would wait forever.
        const lost = (error: Error) => stream.destroy(error);
        connection.once('error', lost);
        async function* rows(): AsyncIterable<Value[][]> {
          let chunk: Value[][] = [];
          try {
            for await (const row of stream as AsyncIterable<unknown[]>) {
              chunk.push(row.map((value, i) => convert[i]!(value)));
              if (chunk.length >= 1000) {
                yield chunk;
                chunk = [];
              }
            }
            if (chunk.length > 0) yield chunk;
            await db.query('COMMIT');
          } catch (error) {
            await db.query('ROLLBACK').catch(() => undefined);
            throw fail(error);
          } finally {
            signal.removeEventListener('abort', abort);
            connection.off('error', lost);
          }
        }
        return { columns, rows: rows(), watermark: () => watermark };
      } catch (error) {
        await db.query('ROLLBACK').catch(() => undefined);
        throw fail(error);
      }
    },
    async close() {
      await current
        ?.promise()
        .end()
        .catch(() => current?.destroy());
    },
  };
}

/** Text for every value, as the loaders expect from a source: buffers as UTF-8, JSON as written. */
function toText(value: unknown): Value {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value as number | bigint | boolean);
}

/** How one column's values are read: TIMESTAMP with its `+00`, TINYINT(1) as a boolean when asked. */
function converter(field: MysqlField, options: { tinyint1AsBoolean: boolean }): (value: unknown) => Value {
  if (isMysqlTimestamp(field)) return (value) => (typeof value === 'string' ? `${value}+00` : toText(value));
  if (options.tinyint1AsBoolean && isMysqlTinyintOne(field))
    return (value) => (value === null || value === undefined ? null : Number(value) !== 0);
  return toText;
}

/**
 * The filter of a read: everything; rows past the watermark; or, with a lookback, rows at or after the
 * watermark less the lookback (`>=`, so that a row on the window's first moment is read again); the first
 * run of a sliding window: rows at or after today less the lookback.
 */
function filter(
  from: ReadFrom,
  fields: readonly MysqlField[],
): { where: string | undefined; params: unknown[] } {
  if (from.kind === 'all') return { where: undefined, params: [] };
  incrementalField(from, fields, (f) => MYSQL_DATE_CODES.has(f.columnType ?? -1));
  const column = `sluice_source.${quoteMysqlIdent(from.column)}`;
  const seconds = Math.round(from.lookbackMs / 1000);
  if (from.kind === 'recent')
    return { where: `${column} >= CURRENT_DATE - INTERVAL ? SECOND`, params: [seconds] };
  if (seconds > 0)
    return {
      where: `${column} >= CAST(? AS DATETIME(6)) - INTERVAL ? SECOND`,
      params: [from.value, seconds],
    };
  return { where: `${column} > ?`, params: [from.value] };
}
