import { Readable } from 'node:stream';
import { SluiceError } from '../../core/errors.js';
import { classifyMysqlError } from './mysql-errors.js';

/** What a `mysql://` or `mariadb://` URL gives. */
export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  database?: string;
  /** The URL without its password, safe to print. */
  location: string;
}

/** Reads `mysql://user:password@host:port/database`; the scheme may also be `mariadb`. */
export function parseMysqlUrl(text: string, where = 'load.url'): MysqlTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SluiceError('CONFIG_INVALID', `${where}: not a URL`, {
      hint: 'Write it as mysql://user:password@host:3306/database.',
    });
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new SluiceError(
      'CONFIG_INVALID',
      `${where}: expected a mysql:// or mariadb:// URL, found ${url.protocol}//`,
    );
  }
  if (url.search !== '') {
    throw new SluiceError('CONFIG_INVALID', `${where}: options after "?" are not supported (${url.search})`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database.includes('/'))
    throw new SluiceError('CONFIG_INVALID', `${where}: the path must be one database name`);
  const host = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  const port = url.port ? Number(url.port) : 3306;
  const user = decodeURIComponent(url.username) || 'root';
  return {
    host,
    port,
    user,
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(database ? { database } : {}),
    location: `mysql://${encodeURIComponent(user)}@${url.host}/${database}`,
  };
}

export interface WriteResult {
  affectedRows: number;
  warningStatus: number;
}

/** One MySQL connection, with every driver error classified (retryable or not). */
export interface MysqlConnection {
  readonly location: string;
  select<R = Record<string, unknown>>(sql: string, values?: readonly unknown[]): Promise<R[]>;
  run(sql: string, values?: readonly unknown[]): Promise<WriteResult>;
  /** `LOAD DATA LOCAL INFILE` fed from `data` (the file name in `sql` is ignored: no local file is read). */
  loadData(sql: string, data: Buffer): Promise<WriteResult>;
  /** A script of one or more statements (SQL steps); needs `multipleStatements` for more than one. */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

// Strict, so bad values fail instead of being truncated; no NO_BACKSLASH_ESCAPES, which the client-side
// escaping of parameters relies on; no ANSI_QUOTES, so backticks are the only identifier quotes.
const SQL_MODE =
  'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

/**
 * The mysql2 options every Sluice connection shares: utf8mb4, and values as MySQL prints them (dates, decimals
 * and big integers as text, never through a JS Date or float).
 */
export function mysqlDriverOptions(target: MysqlTarget) {
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.database !== undefined ? { database: target.database } : {}),
    charset: 'utf8mb4_general_ci',
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    connectTimeout: 10_000,
  };
}

/** Opens a connection (mysql2 is imported here, lazily) with a strict, predictable session. */
export async function connectMysql(
  target: MysqlTarget,
  options: { multipleStatements?: boolean; urlKey?: string } = {},
): Promise<MysqlConnection> {
  const { default: mysql } = await import('mysql2/promise');
  const where = target.location;
  const classify = (error: unknown) => classifyMysqlError(error, where, options.urlKey);
  let conn: import('mysql2/promise').Connection;
  try {
    conn = await mysql.createConnection({
      ...mysqlDriverOptions(target),
      multipleStatements: options.multipleStatements ?? false,
    });
  } catch (error) {
    throw classify(error);
  }
  // An idle connection the server drops emits 'error': the next statement reports it; this only keeps the
  // event from ending the process.
  conn.on('error', () => undefined);
  const call = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw classify(error);
    }
  };
  const header = (result: unknown): WriteResult => {
    const h = result as { affectedRows?: number; warningStatus?: number };
    return { affectedRows: h.affectedRows ?? 0, warningStatus: h.warningStatus ?? 0 };
  };
  await call(() => conn.query(`SET SESSION sql_mode = '${SQL_MODE}'`));
  return {
    location: where,
    select: <R>(sql: string, values?: readonly unknown[]) =>
      call(async () => (await conn.query(sql, values as unknown[] | undefined))[0] as R[]),
    run: (sql, values) =>
      call(async () => header((await conn.query(sql, values as unknown[] | undefined))[0])),
    loadData: (sql, data) =>
      call(async () =>
        header((await conn.query({ sql, infileStreamFactory: () => Readable.from([data]) }))[0]),
      ),
    exec: (script) => call(async () => void (await conn.query(script))),
    async close() {
      await conn.end().catch(() => conn.destroy());
    },
  };
}
