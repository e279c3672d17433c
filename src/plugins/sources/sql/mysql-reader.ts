import type { Column, ColumnType, Value } from '../../../core/records.js';
import { SluiceError } from '../../../core/errors.js';
import type { ReadFrom, SqlSourceOptions } from './sql-options.js';
import { incrementalField, type SourceRead, type SqlReader } from './sql-reader.js';

// mysql2's column type codes (https://dev.mysql.com/doc/dev/mysql-server/latest/field__types_8h.html).
const TYPE_BY_CODE: Record<number, ColumnType> = {
  1: 'integer',
  2: 'integer',
  3: 'integer',
  9: 'integer',
  8: 'bigint',
  4: 'numeric',
  5: 'numeric',
  0: 'numeric',
  246: 'numeric',
  10: 'date',
  7: 'timestamp',
  12: 'timestamp',
  245: 'json',
};
const DATE_CODES = new Set([10, 7, 12]);
const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_CON_COUNT_ERROR',
]);

export function quoteMysqlIdent(name: string): string {
  if (name.length === 0) throw new Error('an SQL identifier cannot be empty');
  return `\`${name.replaceAll('`', '``')}\``;
}

/**
 * Reads from MySQL/MariaDB in one consistent-snapshot transaction (InnoDB REPEATABLE READ): the watermark and
 * the streamed rows see the same data. Values come as text (dates, decimals and big integers unchanged).
 */
export async function openMysqlReader(options: SqlSourceOptions, location: string): Promise<SqlReader> {
  const mysql = await import('mysql2');
  const url = new URL(options.url.replace(/^mariadb:/, 'mysql:'));
  const fail = (error: unknown) => classify(error, location);
  // A connection per read: a retry after a dropped connection starts on a fresh one.
  let current: ReturnType<typeof mysql.createConnection> | undefined;
  const connect = async () => {
    if (current)
      await current
        .promise()
        .end()
        .catch(() => current?.destroy());
    const connection = mysql.createConnection({
      uri: url.toString(),
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      decimalNumbers: false,
      timezone: 'Z',
    });
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

  return {
    async read(from: ReadFrom, signal: AbortSignal): Promise<SourceRead> {
      const connection = await connect();
      const db = connection.promise();
      try {
        await db.query("SET SESSION time_zone = '+00:00'");
        await db.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await db.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
        const [, fields] = await db.query({
          sql: `SELECT * FROM (${base}) AS sluice_source LIMIT 0`,
          rowsAsArray: true,
        });
        const described = (fields ?? []).map((f) => ({ name: f.name, code: f.columnType ?? -1 }));
        const columns: Column[] = described.map((f) => ({
          name: f.name,
          ...(TYPE_BY_CODE[f.code] ? { type: TYPE_BY_CODE[f.code] } : {}),
        }));
        const { where, params } = filter(from, described);
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
            for await (const row of stream as AsyncIterable<Value[]>) {
              chunk.push(row.map(toText));
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

function filter(
  from: ReadFrom,
  fields: { name: string; code: number }[],
): { where: string | undefined; params: unknown[] } {
  if (from.kind === 'all') return { where: undefined, params: [] };
  incrementalField(from, fields, (f) => DATE_CODES.has(f.code));
  const column = `sluice_source.${quoteMysqlIdent(from.column)}`;
  const seconds = Math.round(from.lookbackDays * 86400);
  if (from.kind === 'recent')
    return { where: `${column} >= CURRENT_DATE - INTERVAL ? SECOND`, params: [seconds] };
  if (seconds > 0)
    return { where: `${column} > CAST(? AS DATETIME(6)) - INTERVAL ? SECOND`, params: [from.value, seconds] };
  return { where: `${column} > ?`, params: [from.value] };
}

function classify(error: unknown, location: string): unknown {
  if (error instanceof SluiceError) return error;
  const e = error as { code?: string; errno?: number; message?: string };
  const code = e?.code ?? '';
  const transient = TRANSIENT.has(code);
  return new SluiceError(
    transient && code.startsWith('E') ? 'SOURCE_UNREACHABLE' : 'SOURCE_IO',
    `${location}: ${e?.message ?? String(error)}${code ? ` [${code}]` : ''}`,
    { retryable: transient, cause: error },
  );
}
