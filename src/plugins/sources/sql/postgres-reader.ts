import { classifyDatabaseError } from '../../../core/database-errors.js';
import { parseTableName, quoteIdent, quoteTable } from '../../../core/sql.js';
import { CopyTextDecoder } from '../../../connectors/postgres/copy-text-decode.js';
import { describePostgresColumns } from '../../../connectors/postgres/column-types.js';
import type { ReadFrom, SqlSourceOptions } from './sql-options.js';
import { SluiceError } from '../../../core/errors.js';
import { incrementalField, type SourceRead, type SqlReader } from './sql-reader.js';

// https://github.com/postgres/postgres/blob/master/src/include/catalog/pg_type.dat
const DATE_TYPES: Record<number, string> = { 1082: 'date', 1114: 'timestamp', 1184: 'timestamptz' };

/**
 * Reads from PostgreSQL inside one REPEATABLE READ READ ONLY transaction: the watermark (max of the
 * incremental column over the rows to read) and the rows themselves (COPY … TO STDOUT, streamed) see the
 * same snapshot, so the watermark is exactly the greatest value read.
 */
export async function openPostgresReader(options: SqlSourceOptions, location: string): Promise<SqlReader> {
  const { default: pg } = await import('pg');
  // The module object: bundled, a lazily imported CommonJS package has only a default export.
  const { default: copyStreams } = await import('pg-copy-streams');
  const fail = (error: unknown) => classifyDatabaseError(error, location);
  // A connection per read: a retry after a dropped connection starts on a fresh one.
  let client: InstanceType<typeof pg.Client> | undefined;
  const connect = async () => {
    await client?.end().catch(() => undefined);
    const c = new pg.Client({ connectionString: options.url, application_name: 'sluice-source' });
    c.on('error', () => undefined); // a dropped connection surfaces through the running query
    await c.connect().catch((error: unknown) => {
      throw fail(error);
    });
    client = c;
    return c;
  };
  const base = options.table
    ? `SELECT ${options.columns ? options.columns.map(quoteIdent).join(', ') : '*'} FROM ${quoteTable(parseTableName(options.table))}`
    : options.query!;

  return {
    async read(from: ReadFrom, signal: AbortSignal): Promise<SourceRead> {
      const client = await connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        // timestamptz values print in UTC with their offset (+00): the same instant in any target.
        await client.query("SET LOCAL TimeZone = 'UTC'");
        const described = await client.query(`SELECT * FROM (${base}) AS sluice_source LIMIT 0`);
        // The types in detail (timestamptz, numeric(12,2), arrays…), so that a table created from them keeps them.
        const columns = await describePostgresColumns(
          (text, params) => client.query(text, params),
          described.fields,
        );
        const where = filter(from, described.fields, (v) => client.escapeLiteral(v));
        const source = `(${base}) AS sluice_source${where ? ` WHERE ${where}` : ''}`;
        let watermark: string | undefined;
        if (options.incrementalColumn) {
          const column = options.incrementalColumn!;
          const { rows } = await client.query<{ wm: string | null }>(
            `SELECT max(${quoteIdent(column)})::text AS wm FROM ${source}`,
          );
          watermark = rows[0]?.wm ?? undefined;
        }
        const stream = client.query(copyStreams.to(`COPY (SELECT * FROM ${source}) TO STDOUT`));
        const abort = () => stream.destroy(new SluiceError('ABORTED', 'the run was stopped'));
        signal.addEventListener('abort', abort, { once: true });
        async function* rows() {
          const decoder = new CopyTextDecoder();
          try {
            for await (const chunk of stream as AsyncIterable<Buffer>) {
              const decoded = decoder.push(chunk);
              if (decoded.length > 0) yield decoded;
            }
            decoder.end();
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw fail(error);
          } finally {
            signal.removeEventListener('abort', abort);
          }
        }
        return { columns, rows: rows(), watermark: () => watermark };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw fail(error);
      }
    },
    async close() {
      await client?.end().catch(() => undefined);
    },
  };
}

function filter(
  from: ReadFrom,
  fields: { name: string; dataTypeID: number }[],
  literal: (value: string) => string,
): string | undefined {
  if (from.kind === 'all') return undefined;
  const field = incrementalField(from, fields, (f) => DATE_TYPES[f.dataTypeID] !== undefined);
  const column = `sluice_source.${quoteIdent(from.column)}`;
  const dateType = DATE_TYPES[field.dataTypeID];
  const lookback = `make_interval(secs => ${Math.round(from.lookbackMs / 1000)})`;
  // With a lookback the window's first moment is read again (>=): a correction dated exactly then arrives.
  if (from.kind === 'recent') return `${column} >= current_date - ${lookback}`;
  if (from.lookbackMs > 0) return `${column} >= CAST(${literal(from.value)} AS ${dateType}) - ${lookback}`;
  return `${column} > ${literal(from.value)}`;
}
