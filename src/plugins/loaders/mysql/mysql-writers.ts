import { SluiceError } from '../../../core/errors.js';
import type { Row, Value } from '../../../core/records.js';
import type { MysqlConnection } from '../../../connectors/mysql/mysql-connection.js';
import {
  isMysqlTargetError,
  mysqlErrorColumn,
  mysqlMessage,
} from '../../../connectors/mysql/mysql-errors.js';
import { quoteMysqlIdent } from '../../../connectors/mysql/mysql-ident.js';

/** Writes rows into one table inside the caller's open transaction. */
export interface RowWriter {
  /** `lines[i]` is the source line of `rows[i]`, to name it when MySQL refuses it. */
  add(rows: readonly Row[], lines: readonly number[], origin: string): Promise<void>;
  finish(): Promise<void>;
}

export interface WriterTarget {
  conn: MysqlConnection;
  /** Quoted table name. */
  table: string;
  names: readonly string[];
  /** Merge keys: non-empty means INSERT … ON DUPLICATE KEY UPDATE. */
  keys: readonly string[];
}

/** A cell as MySQL reads it: text, or null. Never a JS object, which mysql2 would expand into SQL. */
export function mysqlText(value: Value | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  // DATETIME has no time zone: write UTC wall time.
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace('Z', '');
  return JSON.stringify(value);
}

/** `ON DUPLICATE KEY UPDATE c = VALUES(c), …`: within one statement rows apply in order, so the last wins. */
function upsertClause(names: readonly string[], keys: readonly string[]): string {
  if (keys.length === 0) return '';
  const rest = names.filter((n) => !keys.includes(n));
  // Every column is a key: nothing to update, but a duplicate must still not fail.
  const set = (rest.length > 0 ? rest : [keys[0]!]).map((n) => {
    const c = quoteMysqlIdent(n);
    return rest.length > 0 ? `${c} = VALUES(${c})` : `${c} = ${c}`;
  });
  return ` ON DUPLICATE KEY UPDATE ${set.join(', ')}`;
}

/**
 * A value MySQL refuses (see `isMysqlTargetError`) as the file's rejection (`TARGET_MISMATCH`), naming the
 * column and the source line of MySQL's "at row N" (1-based within one statement).
 */
function atLine(error: unknown, lines: readonly number[], origin: string): unknown {
  if (!isMysqlTargetError(error)) return error;
  const message = mysqlMessage(error);
  const row = /at row (\d+)/.exec(message)?.[1];
  const line = row === undefined ? undefined : lines[Number(row) - 1];
  return refusedRows(message, origin, line, error);
}

/** The rejection of a file whose rows MySQL refused. */
function refusedRows(
  message: string,
  origin: string,
  line: number | undefined,
  cause?: unknown,
): SluiceError {
  const column = mysqlErrorColumn(message);
  return new SluiceError(
    'TARGET_MISMATCH',
    `MySQL refused rows of ${origin}${column ? `, column ${JSON.stringify(column)}` : ''}: ${message}`,
    {
      where: line !== undefined ? `${origin}:${line}` : origin,
      ...(cause !== undefined ? { cause } : {}),
      hint: 'Fix the file, or change the table.',
    },
  );
}

/**
 * Batched multi-row `INSERT … VALUES (?, …), (…)` with parameters: at most `batchSize` rows or `maxBytes`
 * of values per statement (below max_allowed_packet).
 */
export function createInsertWriter(
  t: WriterTarget,
  options: { batchSize: number; maxBytes: number },
): RowWriter {
  const head = `INSERT INTO ${t.table} (${t.names.map(quoteMysqlIdent).join(', ')}) VALUES `;
  const tail = upsertClause(t.names, t.keys);
  const tuple = `(${t.names.map(() => '?').join(', ')})`;
  let values: (string | null)[] = [];
  let lines: number[] = [];
  let origin = '';
  let bytes = 0;
  const flush = async () => {
    const count = lines.length;
    if (count === 0) return;
    const sql = head + new Array<string>(count).fill(tuple).join(', ') + tail;
    const [sent, at] = [values, lines];
    values = [];
    lines = [];
    bytes = 0;
    try {
      await t.conn.run(sql, sent);
    } catch (error) {
      throw atLine(error, at, origin);
    }
  };
  const width = t.names.length;
  return {
    async add(rows, rowLines, rowOrigin) {
      origin = rowOrigin;
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r]!;
        for (let i = 0; i < width; i++) {
          const text = mysqlText(row[i]);
          values.push(text);
          bytes += text === null ? 4 : text.length + 3;
        }
        lines.push(rowLines[r]!);
        if (lines.length >= options.batchSize || bytes >= options.maxBytes) await flush();
      }
    },
    finish: flush,
  };
}

/** One field of LOAD DATA's default format: tab-separated, `\`-escaped, `\N` for null. */
function loadDataField(text: string | null): string {
  if (text === null) return '\\N';
  if (!/[\\\t\n\r\0]/.test(text)) return text;
  return text.replace(/[\\\t\n\r\0]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0',
  );
}

const LOAD_DATA_FORMAT = `CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'`;

/**
 * `LOAD DATA LOCAL INFILE` fed from memory, in chunks of about `chunkBytes`. With LOCAL, MySQL downgrades
 * bad values and duplicate keys to warnings (it cannot stop the client's upload), so any warning fails the
 * load here. A merge loads into a temporary table of text (no conversion there), then moves the rows in
 * order with INSERT … SELECT … ON DUPLICATE KEY UPDATE, where strict mode applies again.
 */
export function createLoadDataWriter(t: WriterTarget, options: { chunkBytes: number }): RowWriter {
  const merge = t.keys.length > 0;
  const raw = '`_sluice_raw`';
  const rawCols = t.names.map((_, i) => `c${i}`);
  // The column list comes after the format clauses.
  const into = merge
    ? `${raw} ${LOAD_DATA_FORMAT} (${rawCols.join(', ')})`
    : `${t.table} ${LOAD_DATA_FORMAT} (${t.names.map(quoteMysqlIdent).join(', ')})`;
  let parts: string[] = [];
  let lines: number[] = [];
  let origin = '';
  let bytes = 0;
  let started = false;
  const flush = async () => {
    if (lines.length === 0) return;
    if (merge && !started) {
      // Temporary tables do not end the transaction (other DDL would commit it).
      await t.conn.run(`DROP TEMPORARY TABLE IF EXISTS ${raw}`);
      await t.conn.run(
        `CREATE TEMPORARY TABLE ${raw} (seq BIGINT AUTO_INCREMENT PRIMARY KEY, ${rawCols.map((c) => `${c} LONGTEXT`).join(', ')}) CHARACTER SET utf8mb4`,
      );
      started = true;
    }
    const data = Buffer.from(parts.join(''), 'utf8');
    const at = lines;
    parts = [];
    lines = [];
    bytes = 0;
    const result = await t.conn.loadData(`LOAD DATA LOCAL INFILE 'sluice-rows' INTO TABLE ${into}`, data);
    if (result.warningStatus > 0) {
      const warnings = await t.conn.select<{ Message: string }>('SHOW WARNINGS LIMIT 3');
      const message = warnings.map((w) => w.Message).join('; ');
      const row = /at row (\d+)/.exec(message)?.[1];
      throw refusedRows(message, origin, row === undefined ? undefined : at[Number(row) - 1]);
    }
  };
  const width = t.names.length;
  return {
    async add(rows, rowLines, rowOrigin) {
      origin = rowOrigin;
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r]!;
        let line = '';
        for (let i = 0; i < width; i++) {
          line += loadDataField(mysqlText(row[i]));
          line += i === width - 1 ? '\n' : '\t';
        }
        parts.push(line);
        bytes += line.length;
        lines.push(rowLines[r]!);
        if (bytes >= options.chunkBytes) await flush();
      }
    },
    async finish() {
      await flush();
      if (!merge || !started) return;
      try {
        await t.conn.run(
          `INSERT INTO ${t.table} (${t.names.map(quoteMysqlIdent).join(', ')})
           SELECT ${rawCols.join(', ')} FROM ${raw} ORDER BY seq${upsertClause(t.names, t.keys)}`,
        );
      } catch (error) {
        // "at row N" counts the whole unit here; only the chunks' lines are kept, so no line is named.
        throw atLine(error, [], origin);
      }
      await t.conn.run(`DROP TEMPORARY TABLE ${raw}`);
    },
  };
}
