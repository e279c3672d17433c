import { z } from 'zod';
import {
  checkWidth,
  identifierCapabilities,
  mergeNeedsKeys,
  sqlStepOptions,
  tableName,
  tableWriteOptions,
} from '../table-options.js';
import { isSluiceError, SluiceError } from '../../../core/errors.js';
import { defineLoader, type LoadSession, type LoadUnit, type Logger } from '../../../core/plugin.js';
import { sqlTypeFits, type Column, type RecordBatch } from '../../../core/records.js';
import { parseTableName, type CharacterRule, type TableName } from '../../../core/sql.js';
import { withoutNullKeys } from '../null-keys.js';
import { createColumnNamer } from '../column-names.js';
import { UnstorableCharacters, withStorableText } from '../unstorable.js';
import {
  connectMysql,
  parseMysqlUrl,
  type MysqlConnection,
} from '../../../connectors/mysql/mysql-connection.js';
import { mysqlCharacterRule } from '../../../connectors/mysql/mysql-charsets.js';
import { isMysqlTargetError, mysqlErrorCode, mysqlMessage } from '../../../connectors/mysql/mysql-errors.js';
import {
  MYSQL_IDENTIFIERS,
  MYSQL_MAX_COLUMNS,
  quoteMysqlIdent,
  quoteMysqlTable,
} from '../../../connectors/mysql/mysql-ident.js';
import { utcWallTime } from '../../../connectors/mysql/mysql-values.js';
import {
  createMysqlTable,
  databaseOf,
  ensureMarkerTable,
  MARKER_TABLE,
  mysqlTableColumns,
  temporaryTableColumns,
  uniqueKeys,
  type MysqlColumn,
} from './mysql-schema.js';
import {
  createInsertWriter,
  createLoadDataWriter,
  type RowWriter,
  type WriterTarget,
} from './mysql-writers.js';

const options = z
  .strictObject({
    url: z
      .string()
      .regex(/^(mysql|mariadb):\/\//, 'a mysql:// or mariadb:// URL')
      .describe('The target server: mysql://user:password@host:3306/database (mariadb:// also works).'),
    table: tableName.describe('Target table, `table` or `database.table`.'),
    ...tableWriteOptions,
    keys: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Key columns for merge (target column names); the table needs a primary or unique key on them.',
      ),
    method: z
      .enum(['auto', 'loadData', 'insert'])
      .default('auto')
      .describe(
        'loadData: LOAD DATA LOCAL INFILE (about twice as fast); insert: batched multi-row INSERT; auto: loadData when the server allows local_infile, else insert.',
      ),
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1000)
      .describe('Rows per INSERT statement (method insert).'),
    ...sqlStepOptions({
      setup: 'MySQL statements run once at the start of each run.',
      afterLoad:
        "MySQL statements run after each file's rows, in the same MySQL transaction (DDL other than temporary tables would commit it early). Temporary table `staged` holds the rows just loaded; @sluice_run_id, @sluice_as_of, @sluice_origin and @sluice_unit_key describe the load.",
      afterRun:
        'MySQL statements run once when a run finishes without failing; @sluice_run_id and @sluice_as_of are set.',
    }),
  })
  .refine(...mergeNeedsKeys);

type Options = z.output<typeof options>;

/**
 * Rows into MySQL or MariaDB. The target cannot commit with the control plane, so each unit commits in its
 * own MySQL transaction together with a marker row (`_sluice_loads`, keyed by the unit's key): a retry or a
 * rerun of a unit already there loads nothing. Append is exactly-once, merge idempotent.
 */
export const mysqlLoader = defineLoader({
  name: 'mysql',
  summary:
    'MySQL/MariaDB table: LOAD DATA LOCAL or batched INSERT, append, replace or merge on keys (ON DUPLICATE KEY UPDATE), each file once.',
  options,
  capabilities: {
    modes: ['append', 'replace', 'merge'],
    transactional: false,
    ...identifierCapabilities(MYSQL_IDENTIFIERS),
  },
  writeMode: (o) => o.mode,
  async open(opts, context) {
    return createMysqlLoadSession(opts, context.logger, context.dryRun ?? false);
  },
});

/**
 * A dry run changes nothing in MySQL: each unit's transaction is rolled back, a missing table (and marker
 * table) is created TEMPORARY for the unit's connection, and the setup and afterRun steps are skipped.
 */
function createMysqlLoadSession(opts: Options, logger: Logger, dryRun: boolean): LoadSession {
  const server = parseMysqlUrl(opts.url);
  const table: TableName = parseTableName(opts.table);
  const target = quoteMysqlTable(table);
  const hasSteps = [opts.setup, opts.afterLoad, opts.afterRun].some((s) => (s?.length ?? 0) > 0);
  const nameColumns = createColumnNamer(opts.columnNames, MYSQL_IDENTIFIERS, opts.table, logger);
  let localInfile: boolean | undefined;
  let markerReady = false;

  /** A connection for one unit or run step, always closed: the session has no end to close a pool at. */
  async function withConnection<T>(work: (conn: MysqlConnection) => Promise<T>): Promise<T> {
    const conn = await connectMysql(server, { multipleStatements: hasSteps });
    try {
      return await work(conn);
    } finally {
      await conn.close();
    }
  }

  /** A MySQL error about the file's columns (too many, a name it refuses) as the file's rejection. */
  function asTargetMismatch(error: unknown, unit: LoadUnit): unknown {
    if (isSluiceError(error, 'TARGET_MISMATCH') || !isMysqlTargetError(error)) return error;
    return new SluiceError(
      'TARGET_MISMATCH',
      `table ${opts.table} cannot take the columns of the file: ${mysqlMessage(error)}`,
      { where: unit.origin, cause: error, hint: 'Fix the header, or change the table.' },
    );
  }

  /** Runs `work` in a MySQL transaction: committed when it returns (rolled back in a dry run), rolled back when it throws. */
  async function inTransaction<T>(conn: MysqlConnection, work: () => Promise<T>): Promise<T> {
    await conn.run('START TRANSACTION');
    try {
      const result = await work();
      await conn.run(dryRun ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (error) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  const runSteps = async (conn: MysqlConnection, steps: string[] | undefined) => {
    for (const sql of steps ?? []) await conn.exec(sql);
  };

  const setContext = (
    conn: MysqlConnection,
    c: { runId: string; asOf: string; origin?: string; key?: string },
  ) =>
    conn.run('SET @sluice_run_id = ?, @sluice_as_of = ?, @sluice_origin = ?, @sluice_unit_key = ?', [
      c.runId,
      c.asOf,
      c.origin ?? null,
      c.key ?? null,
    ]);

  async function useLoadData(conn: MysqlConnection): Promise<boolean> {
    if (opts.method !== 'auto') return opts.method === 'loadData';
    if (localInfile === undefined) {
      const [row] = await conn.select<{ v: number | string }>('SELECT @@local_infile AS v');
      localInfile = Number(row?.v) === 1;
      logger.debug(`MySQL loads with ${localInfile ? 'LOAD DATA LOCAL INFILE' : 'batched INSERT'}`);
    }
    return localInfile;
  }

  /**
   * Checks the table against the unit's columns, creating it when missing; returns its database and columns.
   * MySQL compares column names ignoring case, so the table's own spelling is looked up that way.
   */
  async function prepareTable(conn: MysqlConnection, names: string[], columns: Column[], unit: LoadUnit) {
    const database = await databaseOf(conn, table);
    let existing = await mysqlTableColumns(conn, database, table.name);
    let createdTemporary = false;
    if (!existing) {
      if (!opts.createTable) {
        throw new SluiceError('LOAD_FAILED', `table ${opts.table} does not exist`, {
          hint: 'Create it, or set load.createTable: true.',
        });
      }
      await createMysqlTable(conn, table, columns, opts.keys, { temporary: dryRun });
      logger.debug(`created table ${opts.table}${dryRun ? ' (temporary: a dry run)' : ''}`);
      existing = dryRun
        ? await temporaryTableColumns(conn, table)
        : (await mysqlTableColumns(conn, database, table.name))!;
      createdTemporary = dryRun;
    }
    const fold = MYSQL_IDENTIFIERS.fold!;
    const byFold = new Map([...existing].map(([name, column]) => [fold(name), column]));
    const missing = names.filter((n) => !byFold.has(fold(n)));
    if (missing.length > 0) {
      throw new SluiceError(
        'TARGET_MISMATCH',
        `table ${opts.table} has no column ${missing.map((m) => JSON.stringify(m)).join(', ')}; it has ${[...existing.keys()].join(', ')}`,
        { where: unit.origin, hint: 'Add the columns to the table, or rename them in the pipeline.' },
      );
    }
    const targetColumns = names.map((n) => byFold.get(fold(n))!);
    const badKeys = opts.keys.filter((k) => !names.includes(k));
    if (badKeys.length > 0) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `load.keys: ${badKeys.join(', ')} not among the columns ${names.join(', ')}`,
      );
    }
    // A table created just now has its primary key on the keys (and a temporary one is not in information_schema).
    if (opts.mode === 'merge' && !createdTemporary) {
      const wanted = [...opts.keys].sort().join('\u0000');
      const unique = await uniqueKeys(conn, database, table.name);
      // Without a unique index on exactly the keys, ON DUPLICATE KEY UPDATE would quietly append.
      if (!unique.some((cols) => [...cols].sort().join('\u0000') === wanted)) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `load.keys: table ${opts.table} has no primary key or unique index on (${opts.keys.join(', ')})`,
          {
            hint: `Add one: ALTER TABLE ${target} ADD UNIQUE (${opts.keys.map(quoteMysqlIdent).join(', ')})`,
          },
        );
      }
    }
    if (!markerReady) {
      await ensureMarkerTable(conn, database, { temporary: dryRun });
      // A temporary marker table lives as long as the unit's connection.
      markerReady = !dryRun;
    }
    return { database, targetColumns };
  }

  /**
   * Claims the unit's marker inside the open transaction. A marker already there means the unit is loaded
   * (by any run; in replace mode, by this run) and its recorded row count is returned. A concurrent load of
   * the same unit waits on the marker's row lock, then finds it.
   */
  async function claimMarker(conn: MysqlConnection, marker: string, unit: LoadUnit, targetName: string) {
    try {
      await conn.run(
        `INSERT INTO ${marker} (target, unit_key, run_id, origin, rows_loaded) VALUES (?, ?, ?, ?, 0)`,
        [targetName, unit.key, unit.runId, unit.origin.slice(0, 1024)],
      );
      return undefined;
    } catch (error) {
      if (mysqlErrorCode(error) !== 'ER_DUP_ENTRY') throw error;
    }
    const [row] = await conn.select<{ run_id: string; rows_loaded: string }>(
      `SELECT run_id, rows_loaded FROM ${marker} WHERE target = ? AND unit_key = ? FOR UPDATE`,
      [targetName, unit.key],
    );
    // A replace empties the table at the first unit of each run: another run's load of it is gone.
    if (!row || (opts.mode === 'replace' && row.run_id !== unit.runId)) return undefined;
    return { runId: row.run_id, rows: Number(row.rows_loaded) };
  }

  return {
    async startRun(_tx, run) {
      if (!opts.setup?.length) return;
      if (dryRun) {
        logger.warn('a dry run does not run the setup steps on MySQL (they would change it)');
        return;
      }
      await withConnection(async (conn) => {
        await setContext(conn, run);
        await runSteps(conn, opts.setup);
      });
    },

    async load(_tx, batches, unit) {
      const iterator = batches[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done) throw new Error('a load unit must carry at least one (possibly empty) batch');
      const names = nameColumns(first.value.columns, unit.origin);
      const columns: Column[] = first.value.columns.map((c, i) => ({ ...c, name: names[i]! }));
      checkWidth(names.length, MYSQL_MAX_COLUMNS, 'MySQL (InnoDB)', unit.origin);
      const keyIndexes = opts.mode === 'merge' ? opts.keys.map((k) => names.indexOf(k)) : [];
      // An instant (PostgreSQL timestamptz, MySQL TIMESTAMP) goes into DATETIME as UTC, without its offset.
      const instants = columns.flatMap((c, i) => (sqlTypeFits(c)?.base === 'timestamptz' ? [i] : []));
      const unstorable = new UnstorableCharacters(opts.unstorableCharacters, unit, logger);
      let rules: (CharacterRule | undefined)[] = [];
      async function* rest(): AsyncIterable<RecordBatch> {
        let batch: RecordBatch | undefined = first.value;
        while (batch) {
          batch = await withoutNullKeys(batch, keyIndexes, unit);
          batch = await withStorableText(batch, rules, unstorable);
          if (instants.length > 0)
            for (const row of batch.rows) for (const i of instants) row[i] = utcWallTime(row[i] ?? null);
          yield batch;
          const next = await iterator.next();
          batch = next.done ? undefined : next.value;
        }
      }

      return withConnection(async (conn) => {
        // DDL commits implicitly in MySQL: the table and the marker table are made before the transaction.
        const { database, targetColumns } = await prepareTable(conn, names, columns, unit).catch(
          (error: unknown) => {
            throw asTargetMismatch(error, unit);
          },
        );
        rules = targetColumns.map((c: MysqlColumn) => mysqlCharacterRule(c.charset));
        const loadData = await useLoadData(conn);
        const marker = quoteMysqlTable({ schema: database, name: MARKER_TABLE });
        const targetName = `${database}.${table.name}`;
        let done: { runId: string; rows: number } | undefined;
        const rowsLoaded = await inTransaction(conn, async () => {
          done = await claimMarker(conn, marker, unit, targetName);
          if (done) return done.rows;
          await setContext(conn, { runId: unit.runId, asOf: unit.asOf, origin: unit.origin, key: unit.key });
          if (opts.mode === 'replace' && unit.firstOfRun) await conn.run(`DELETE FROM ${target}`);
          const into = (quoted: string, keys: readonly string[]): RowWriter => {
            const t: WriterTarget = { conn, table: quoted, names, keys };
            return loadData
              ? createLoadDataWriter(t, { chunkBytes: 8 << 20 })
              : createInsertWriter(t, { batchSize: opts.batchSize, maxBytes: 4 << 20 });
          };
          const writers = [into(target, opts.mode === 'merge' ? opts.keys : [])];
          if (opts.afterLoad?.length) {
            await conn.run('DROP TEMPORARY TABLE IF EXISTS `staged`');
            await conn.run(
              `CREATE TEMPORARY TABLE \`staged\` AS SELECT ${names.map(quoteMysqlIdent).join(', ')} FROM ${target} LIMIT 0`,
            );
            writers.push(into('`staged`', []));
          }
          let count = 0;
          for await (const batch of rest()) {
            if (batch.rows.length === 0) continue;
            for (const w of writers) await w.add(batch.rows, batch.lines, batch.origin);
            count += batch.rows.length;
          }
          for (const w of writers) await w.finish();
          await runSteps(conn, opts.afterLoad);
          await conn.run(
            `UPDATE ${marker} SET rows_loaded = ?, run_id = ?, origin = ?, loaded_at = CURRENT_TIMESTAMP(6) WHERE target = ? AND unit_key = ?`,
            [count, unit.runId, unit.origin.slice(0, 1024), targetName, unit.key],
          );
          return count;
        });
        if (done) {
          // The rows are in MySQL already (a retry, or a rerun after the control plane failed to commit).
          // The batches are still read: the runner counts them and keeps their rejects with this attempt.
          for await (const _ of rest());
          logger.info(
            `${unit.origin} is already in ${opts.table} (loaded by run ${done.runId}, ${done.rows} rows): not loaded again`,
          );
        }
        unstorable.finish();
        return { rowsLoaded };
      });
    },

    async afterLoad() {
      // The steps ran inside load(), in the MySQL transaction of the rows and the marker: once per unit.
    },

    async finishRun(_tx, run) {
      const empty = opts.mode === 'replace' && !run.loadedAny;
      if (!empty && !opts.afterRun?.length) return;
      if (dryRun) {
        if (opts.afterRun?.length)
          logger.warn('a dry run does not run the afterRun steps on MySQL (they would change it)');
        return;
      }
      await withConnection(async (conn) =>
        inTransaction(conn, async () => {
          await setContext(conn, run);
          if (empty) {
            const database = await databaseOf(conn, table);
            if (await mysqlTableColumns(conn, database, table.name)) await conn.run(`DELETE FROM ${target}`);
          }
          await runSteps(conn, opts.afterRun);
        }),
      );
    },
  };
}
