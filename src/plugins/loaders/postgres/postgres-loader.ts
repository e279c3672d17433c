import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import {
  checkWidth,
  identifierCapabilities,
  mergeNeedsKeys,
  sqlStepOptions,
  tableName,
  tableWriteOptions,
} from '../table-options.js';
import { DATASET_ID_COLUMN } from '../../../core/dataset-spec.js';
import { copyErrorPosition, sqlState } from '../../../core/database-errors.js';
import { isSluiceError, SluiceError } from '../../../core/errors.js';
import { defineLoader, type LoadSession, type LoadUnit, type Logger } from '../../../core/plugin.js';
import { sqlTypeFits, type Column, type ColumnType, type RecordBatch } from '../../../core/records.js';
import {
  parseTableName,
  POSTGRES_IDENTIFIERS,
  quoteIdent,
  quoteTable,
  type SqlClient,
  type TableName,
} from '../../../core/sql.js';
import { withoutNullKeys } from '../null-keys.js';
import { createColumnNamer } from '../column-names.js';
import { UnstorableCharacters } from '../unstorable.js';
import { RowLines } from './row-lines.js';
import { createCopyScratch, toCopyBytes, type RefusedCell } from '../../../connectors/postgres/copy-text.js';
import { isPostgresTargetError, postgresErrorFields } from '../../../connectors/postgres/postgres-errors.js';
import { createTypeInference, widenType } from './infer-types.js';
import {
  addColumn,
  changeColumnType,
  ensureColumn,
  columnTypeOf,
  createTable,
  POSTGRES_MAX_COLUMNS,
  tableColumns,
} from './table-schema.js';

const options = z
  .strictObject({
    table: tableName.describe('Target table, `table` or `schema.table`.'),
    ...tableWriteOptions,
    keys: z.array(z.string().min(1)).default([]).describe('Key columns for merge (target column names).'),
    schema: z
      .enum(['fixed', 'evolve', 'ignore_new', 'strict'])
      .default('fixed')
      .describe(
        "fixed: create a missing table (check types, else text), refuse a file with a column the table lacks; evolve: infer types, add new columns and widen types as the data needs; ignore_new: load only the table's columns, warn about the others; strict: refuse a file whose columns differ from the table's. All but fixed infer the types of a new table from the data.",
      ),
    ...sqlStepOptions({
      setup: 'SQL run once at the start of each run (such as CREATE TABLE IF NOT EXISTS).',
      afterLoad:
        "SQL run after each file's rows and rejects, in the same transaction. Temp table `staged` holds the rows just loaded; sluice.run_id(), sluice.as_of(), sluice.file_name(), sluice.file_id() describe the load.",
      afterRun:
        'SQL run once when a run finishes without failing, in its own transaction; sluice.run_id() and sluice.as_of() are set.',
    }),
  })
  .refine(...mergeNeedsKeys);

type Options = z.output<typeof options>;

/** Rows into PostgreSQL (a server or PGlite): COPY into a staging table, then append, replace or merge. */
export const postgresLoader = defineLoader({
  name: 'postgres',
  summary:
    'PostgreSQL table (server or embedded): COPY (through a staging table for merge and SQL steps), append, replace or merge on keys.',
  options,
  capabilities: {
    modes: ['append', 'replace', 'merge'],
    transactional: true,
    datasets: true,
    ...identifierCapabilities(POSTGRES_IDENTIFIERS),
  },
  writeMode: (o) => o.mode,
  async open(opts, context) {
    return createPostgresLoadSession(opts, context.logger, context.workDir);
  },
});

function createPostgresLoadSession(opts: Options, logger: Logger, workDir: string): LoadSession {
  const table: TableName = parseTableName(opts.table);
  const scratch = createCopyScratch();
  const target = quoteTable(table);
  const nameColumns = createColumnNamer(opts.columnNames, POSTGRES_IDENTIFIERS, opts.table, logger);
  const runSql = async (tx: SqlClient, steps: string[] | undefined) => {
    for (const sql of steps ?? []) await tx.exec(sql);
  };

  /** Fills temp table `staged` (typed like the target), then merges or appends it into the target. */
  async function mergeOrInsert(
    tx: SqlClient,
    names: readonly string[],
    unit: LoadUnit,
    fillStaged: () => Promise<number>,
  ): Promise<{ rowsLoaded: number }> {
    const cols = names.map(quoteIdent).join(', ');
    const staged = await fillStaged();
    let rowsLoaded: number;
    if (opts.mode === 'merge') {
      const keys = opts.keys.map(quoteIdent).join(', ');
      const rest = names.filter((n) => !opts.keys.includes(n));
      const update =
        rest.length === 0
          ? 'DO NOTHING'
          : `DO UPDATE SET ${rest.map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`).join(', ')}
             WHERE (${rest.map((n) => `${target}.${quoteIdent(n)}`).join(', ')}) IS DISTINCT FROM (${rest
               .map((n) => `EXCLUDED.${quoteIdent(n)}`)
               .join(', ')})`;
      // Duplicate keys inside one load: the last row read wins (ctid follows COPY order in a fresh table).
      const insert = `INSERT INTO ${target} (${cols})
         SELECT DISTINCT ON (${keys}) ${cols} FROM staged ORDER BY ${keys}, ctid DESC`;
      const changed =
        (await insertIntoEmpty(tx, insert)) ??
        (await tx.query(`${insert} ON CONFLICT (${keys}) ${update}`)).rowCount;
      rowsLoaded = staged;
      logger.debug(`merged ${staged} rows into ${opts.table}`, { changed });
    } else {
      if (opts.mode === 'replace' && unit.firstOfRun) await tx.query(`TRUNCATE ${target}`);
      const result = await tx.query(`INSERT INTO ${target} (${cols}) SELECT ${cols} FROM staged`);
      rowsLoaded = result.rowCount;
    }
    return { rowsLoaded };
  }

  /**
   * A merge into an empty table as a plain INSERT: nothing there conflicts, and the load's own repeated keys
   * are settled by DISTINCT ON; the upsert's speculative insertion cost 15 % of the statement (bench/README).
   * A key another session commits meanwhile fails it (SQLSTATE 23505): undefined, and the upsert runs.
   */
  async function insertIntoEmpty(tx: SqlClient, insert: string): Promise<number | undefined> {
    if (!(await isEmpty(tx))) return undefined;
    await tx.query('SAVEPOINT sluice_merge_empty');
    try {
      const { rowCount } = await tx.query(insert);
      await tx.query('RELEASE SAVEPOINT sluice_merge_empty');
      return rowCount;
    } catch (error) {
      if (sqlState(error) !== '23505') throw error;
      await tx.query('ROLLBACK TO SAVEPOINT sluice_merge_empty');
      return undefined;
    }
  }

  /**
   * The COPY bytes of each batch, one chunk a batch: rows without their merge key go to the rejects (NOT
   * NULL would refuse them), cells the database cannot store are refused; `kept` hears which rows went in.
   */
  async function* copyBatches(
    first: RecordBatch,
    iterator: AsyncIterator<RecordBatch>,
    indexes: readonly number[],
    keyIndexes: readonly number[],
    unit: LoadUnit,
    unstorable: UnstorableCharacters,
    kept: (batch: RecordBatch, refused: ReadonlySet<number>) => void,
  ): AsyncIterable<Uint8Array> {
    let batch: RecordBatch | undefined = first;
    while (batch) {
      batch = await withoutNullKeys(batch, keyIndexes, unit);
      if (batch.rows.length > 0) {
        const refused = new Set<number>();
        const bytes = toCopyBytes(batch.rows, indexes, scratch, refusedCell(batch, unstorable, refused));
        await unstorable.flush();
        kept(batch, refused);
        if (bytes.length > 0) yield bytes;
      }
      const next = await iterator.next();
      batch = next.done ? undefined : next.value;
    }
  }

  /** Merge keys must be columns of the load. */
  function keysAmong(names: readonly string[]) {
    const badKeys = opts.keys.filter((k) => !names.includes(k));
    if (badKeys.length > 0) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `load.keys: ${badKeys.join(', ')} not among the columns ${names.join(', ')}`,
      );
    }
  }

  /** A file's columns the table lacks: the file is rejected, naming them. */
  function missingColumns(missing: readonly string[], has: ReadonlyMap<string, string>, unit: LoadUnit) {
    return new SluiceError(
      'TARGET_MISMATCH',
      `table ${opts.table} has no column ${missing.map((m) => JSON.stringify(m)).join(', ')}; it has ${[...has.keys()].join(', ')}`,
      {
        where: unit.origin,
        hint: 'Add the columns to the table, rename them in the pipeline, or use schema: evolve to add them.',
      },
    );
  }

  /**
   * The load under schema evolve, ignore_new or strict: check the file's columns against the table, COPY
   * the rows as text into a temp table while inferring their types, create the table or add and widen
   * columns (evolve), then insert with casts.
   */
  async function loadWithSchema(
    tx: SqlClient,
    first: RecordBatch,
    iterator: AsyncIterator<RecordBatch>,
    fileNames: readonly string[],
    columns: readonly Column[],
    unit: LoadUnit,
    unstorable: UnstorableCharacters,
  ): Promise<{ rowsLoaded: number }> {
    let existing = await tableColumns(tx, table);
    if (!existing && !opts.createTable) {
      throw new SluiceError('LOAD_FAILED', `table ${opts.table} does not exist`, {
        hint: 'Create it, or set load.createTable: true.',
      });
    }
    let indexes = fileNames.map((_, i) => i);
    if (existing) {
      const has = existing;
      const added = fileNames.filter((n) => !has.has(n));
      if (opts.schema === 'strict') {
        const missing = [...has.keys()].filter((n) => !fileNames.includes(n));
        if (added.length > 0 || missing.length > 0) {
          const list = (l: string[]) => (l.length > 0 ? l.map((n) => JSON.stringify(n)).join(', ') : 'none');
          throw new SluiceError(
            'TARGET_MISMATCH',
            `the columns of the file do not match table ${opts.table}: missing ${list(missing)}; new ${list(added)}`,
            {
              where: unit.origin,
              hint: 'Fix the file, or change the table; schema: evolve adds new columns.',
            },
          );
        }
      } else if (opts.schema === 'ignore_new' && added.length > 0) {
        logger.warn(`ignoring columns table ${opts.table} does not have: ${added.join(', ')}`, {
          file: unit.origin,
        });
        indexes = indexes.filter((i) => has.has(fileNames[i]!));
      }
    }
    const names = indexes.map((i) => fileNames[i]!);
    keysAmong(names);

    const cols = names.map(quoteIdent).join(', ');
    await tx.query('DROP TABLE IF EXISTS pg_temp.sluice_raw');
    await tx.query(
      `CREATE TEMP TABLE sluice_raw (${names.map((n) => `${quoteIdent(n)} text`).join(', ')}) ON COMMIT DROP`,
    );
    const inference = createTypeInference(names.length);
    const keyIndexes = opts.mode === 'merge' ? opts.keys.map((k) => fileNames.indexOf(k)) : [];
    const copyChunks = () =>
      copyBatches(first, iterator, indexes, keyIndexes, unit, unstorable, (batch, refused) =>
        // Rejected rows teach the inference nothing.
        inference.add(refused.size > 0 ? batch.rows.filter((_, r) => !refused.has(r)) : batch.rows, indexes),
      );
    await tx.copyFrom({ name: 'sluice_raw' }, names, copyChunks());
    const inferred = inference.types();
    // A type a check or the source gave wins over the inferred one; undefined: only nulls, nothing to learn.
    const needed = indexes.map((i, k): ColumnType | undefined => columns[i]!.type ?? inferred[k]);
    const newColumn = (k: number): Column => {
      const column = columns[indexes[k]!]!;
      const type = needed[k] ?? 'text';
      const sqlType = sqlTypeFits(column);
      return { name: names[k]!, type, ...(sqlType ? { sqlType } : {}) };
    };

    if (!existing) {
      checkWidth(names.length, POSTGRES_MAX_COLUMNS, 'PostgreSQL', unit.origin);
      await createTable(
        tx,
        table,
        names.map((_, k) => newColumn(k)),
        opts.keys,
      );
      logger.debug(`created table ${opts.table}`);
      existing = (await tableColumns(tx, table))!;
    } else if (opts.schema === 'evolve') {
      let changed = false;
      for (const [k, name] of names.entries()) {
        const current = existing.get(name);
        const need = needed[k];
        if (current === undefined) {
          const type = await addColumn(tx, table, newColumn(k));
          logger.info(`added column ${name} ${type} to ${opts.table}`);
          changed = true;
          continue;
        }
        // A type Sluice does not know (varchar, timestamptz…) is left as the table has it.
        const type = columnTypeOf(current);
        if (!type || !need) continue;
        const wider = widenType(type, need);
        if (wider !== type) {
          await changeColumnType(tx, table, name, wider);
          logger.info(`widened column ${name} of ${opts.table} from ${type} to ${wider}`);
          changed = true;
        }
      }
      if (changed) existing = (await tableColumns(tx, table))!;
    }

    const has = existing;
    const casts = names.map((n) => `${quoteIdent(n)}::${has.get(n)!}`).join(', ');
    /** INSERT … SELECT with casts; a value that does not cast rejects the file, naming its column(s). */
    const insertCast = async (into: string) => {
      await tx.query('SAVEPOINT sluice_cast');
      try {
        const result = await tx.query(`INSERT INTO ${into} (${cols}) SELECT ${casts} FROM sluice_raw`);
        await tx.query('RELEASE SAVEPOINT sluice_cast');
        return result.rowCount;
      } catch (error) {
        if (!sqlState(error)?.startsWith('22')) throw error;
        await tx.query('ROLLBACK TO SAVEPOINT sluice_cast');
        throw await uncastable(tx, names, has, error, unit);
      }
    };
    if (opts.mode !== 'merge' && !opts.afterLoad) {
      if (opts.mode === 'replace' && unit.firstOfRun) await tx.query(`TRUNCATE ${target}`);
      return { rowsLoaded: await insertCast(target) };
    }
    return mergeOrInsert(tx, names, unit, async () => {
      await tx.query('DROP TABLE IF EXISTS pg_temp.staged');
      await tx.query(`CREATE TEMP TABLE staged ON COMMIT DROP AS SELECT ${cols} FROM ${target} WITH NO DATA`);
      return insertCast('staged');
    });
  }

  /**
   * The columns of `sluice_raw` whose values do not cast to the table's types, each tried alone in a
   * savepoint (PostgreSQL's message names the value, not the column): the file's rejection names them.
   */
  async function uncastable(
    tx: SqlClient,
    names: readonly string[],
    types: ReadonlyMap<string, string>,
    cause: unknown,
    unit: LoadUnit,
  ): Promise<SluiceError> {
    const failed: string[] = [];
    for (const name of names) {
      const type = types.get(name)!;
      if (type === 'text') continue;
      await tx.query('SAVEPOINT sluice_probe');
      try {
        await tx.query(`SELECT count(${quoteIdent(name)}::${type}) FROM sluice_raw`);
        await tx.query('RELEASE SAVEPOINT sluice_probe');
      } catch (error) {
        await tx.query('ROLLBACK TO SAVEPOINT sluice_probe');
        failed.push(`column ${JSON.stringify(name)} (${type}): ${postgresErrorFields(error).message}`);
      }
    }
    const reason = failed.length > 0 ? failed.join('; ') : postgresErrorFields(cause).message;
    return new SluiceError(
      'TARGET_MISMATCH',
      `values of the file do not fit table ${opts.table}: ${reason}`,
      {
        where: unit.origin,
        cause,
        hint: 'Fix the values, or change the column type (a column Sluice created widens under schema: evolve).',
      },
    );
  }

  /** A database error about the file's rows (a value, a key, NOT NULL) as the file's rejection. */
  function asTargetMismatch(error: unknown, unit: LoadUnit, lines: RowLines): unknown {
    if (isSluiceError(error, 'TARGET_MISMATCH') || !isPostgresTargetError(error)) return error;
    const fields = postgresErrorFields(error);
    const position = copyErrorPosition(fields.where);
    const column = fields.column ?? position.column;
    const line = position.row !== undefined ? lines.get(position.row) : undefined;
    const detail = fields.detail ? ` (${fields.detail})` : '';
    return new SluiceError(
      'TARGET_MISMATCH',
      `the rows do not fit table ${opts.table}${column ? `, column ${JSON.stringify(column)}` : ''}: ${fields.message}${detail}`,
      {
        where: line !== undefined ? `${unit.origin}:${line}` : unit.origin,
        cause: error,
        hint: 'Fix the file, or change the table.',
      },
    );
  }

  /** The unit's rows are unique by columns that are all merge keys, hence unique by the keys. */
  function uniqueByKeys(unit: LoadUnit, columns: readonly Column[], names: readonly string[]): boolean {
    if (!unit.uniqueBy || unit.uniqueBy.length === 0) return false;
    return unit.uniqueBy.every((source) => {
      const i = columns.findIndex((c) => c.name === source);
      return i >= 0 && opts.keys.includes(names[i]!);
    });
  }

  async function isEmpty(tx: SqlClient): Promise<boolean> {
    const { rows } = await tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${target}) AS any`);
    return rows[0]?.any === false;
  }

  /**
   * COPY into the (empty) target inside a savepoint, writing the same bytes to a spool file. A unique
   * violation (a key repeated in the unit) rolls the savepoint back; the rest of the chunks go to the spool
   * and `replay` streams it all again for the staged merge, where the last row of a key wins.
   */
  async function copyIntoEmpty(
    tx: SqlClient,
    names: readonly string[],
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<{ loaded?: number; replay: () => AsyncIterable<Uint8Array> }> {
    const spoolPath = path.join(workDir, `merge-${randomUUID()}.copy`);
    const spool = createWriteStream(spoolPath);
    const iterator = chunks[Symbol.asyncIterator]();
    const write = async (chunk: Uint8Array) => {
      if (!spool.write(chunk)) await once(spool, 'drain');
    };
    async function* tee(): AsyncIterable<Uint8Array> {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        await write(next.value);
        yield next.value;
      }
    }
    const replay = () => lineChunks(spoolPath);
    await tx.query('SAVEPOINT sluice_direct_merge');
    try {
      const loaded = await tx.copyFrom(table, names, tee());
      await tx.query('RELEASE SAVEPOINT sluice_direct_merge');
      spool.end();
      await once(spool, 'close');
      await rm(spoolPath, { force: true });
      return { loaded, replay };
    } catch (error) {
      if (sqlState(error) !== '23505') {
        spool.destroy();
        await rm(spoolPath, { force: true });
        throw error;
      }
      await tx.query('ROLLBACK TO SAVEPOINT sluice_direct_merge');
      for (let next = await iterator.next(); !next.done; next = await iterator.next())
        await write(next.value);
      spool.end();
      await once(spool, 'close');
      return {
        replay: async function* () {
          try {
            yield* replay();
          } finally {
            await rm(spoolPath, { force: true });
          }
        },
      };
    }
  }

  /** The load under schema fixed: COPY into the table (straight, or through `staged` for merge and steps). */
  async function loadFixed(
    tx: SqlClient,
    first: RecordBatch,
    iterator: AsyncIterator<RecordBatch>,
    names: readonly string[],
    columns: readonly Column[],
    unit: LoadUnit,
    unstorable: UnstorableCharacters,
    lines: RowLines,
  ): Promise<{ rowsLoaded: number }> {
    let existing = await tableColumns(tx, table);
    if (!existing) {
      if (!opts.createTable) {
        throw new SluiceError('LOAD_FAILED', `table ${opts.table} does not exist`, {
          hint: 'Create it, or set load.createTable: true.',
        });
      }
      await createTable(tx, table, columns, opts.keys);
      logger.debug(`created table ${opts.table}`);
      existing = (await tableColumns(tx, table))!;
    }
    const has = existing;
    const missing = names.filter((n) => !has.has(n));
    if (missing.length > 0) throw missingColumns(missing, has, unit);
    keysAmong(names);

    const cols = names.map(quoteIdent).join(', ');
    const indexes = names.map((_, i) => i);
    // A row without its merge key is a reject, not a failure of the unit (NOT NULL would refuse it).
    const keyIndexes = opts.mode === 'merge' ? opts.keys.map((k) => names.indexOf(k)) : [];
    const copyChunks = () =>
      copyBatches(first, iterator, indexes, keyIndexes, unit, unstorable, (batch, refused) => {
        for (let r = 0; r < batch.lines.length; r++) if (!refused.has(r)) lines.push(batch.lines[r]!);
      });

    // Without a merge or SQL steps that read `staged`, COPY goes straight into the table: half the writes.
    if (opts.mode !== 'merge' && !opts.afterLoad) {
      if (opts.mode === 'replace' && unit.firstOfRun) await tx.query(`TRUNCATE ${target}`);
      return { rowsLoaded: await tx.copyFrom(table, names, copyChunks()) };
    }

    // A merge into an empty table (a first sync) of rows the source says are unique by the keys needs no
    // upsert: COPY straight in, keeping the bytes aside in case a key repeats after all (then the staged
    // merge). Without the source's word a repeated key is likely (daily files) and the attempt costly.
    if (
      opts.mode === 'merge' &&
      !opts.afterLoad &&
      uniqueByKeys(unit, first.columns, names) &&
      (await isEmpty(tx))
    ) {
      const direct = await copyIntoEmpty(tx, names, copyChunks());
      if (direct.loaded !== undefined) return { rowsLoaded: direct.loaded };
      logger.debug(`a key repeats in ${unit.origin}: merging through the staging table`);
      return mergeOrInsert(tx, names, unit, async () => {
        await tx.query('DROP TABLE IF EXISTS pg_temp.staged');
        await tx.query(
          `CREATE TEMP TABLE staged ON COMMIT DROP AS SELECT ${cols} FROM ${target} WITH NO DATA`,
        );
        return tx.copyFrom({ name: 'staged' }, names, direct.replay());
      });
    }

    // A dry run keeps one transaction for all files: the previous file's staging table is still there.
    return mergeOrInsert(tx, names, unit, async () => {
      await tx.query('DROP TABLE IF EXISTS pg_temp.staged');
      await tx.query(`CREATE TEMP TABLE staged ON COMMIT DROP AS SELECT ${cols} FROM ${target} WITH NO DATA`);
      return tx.copyFrom({ name: 'staged' }, names, copyChunks());
    });
  }

  return {
    target: opts.table,

    async startRun(tx) {
      await runSql(tx, opts.setup);
    },

    async load(tx, batches, unit) {
      let iterator = batches[Symbol.asyncIterator]();
      let first = await iterator.next();
      if (first.done) throw new Error('a load unit must carry at least one (possibly empty) batch');
      const sourceColumns = first.value.columns;
      if (unit.dataset) {
        // An empty file of a dataset has no columns: an empty dataset, nothing to create or load.
        if (sourceColumns.length === 0) return { rowsLoaded: 0, columns: [] };
        if (await tableColumns(tx, table)) await ensureColumn(tx, table, DATASET_COLUMN);
        iterator = withDatasetId(first.value, iterator, unit.dataset.id)[Symbol.asyncIterator]();
        first = await iterator.next();
        if (first.done) throw new Error('unreachable: the dataset id wraps every batch');
      }
      const names = nameColumns(first.value.columns, unit.origin);
      const columns: Column[] = first.value.columns.map((c, i) => ({ ...c, name: names[i]! }));
      if (opts.schema !== 'ignore_new')
        checkWidth(names.length, POSTGRES_MAX_COLUMNS, 'PostgreSQL', unit.origin);
      const unstorable = new UnstorableCharacters(opts.unstorableCharacters, unit, logger);
      const lines = new RowLines();
      try {
        const result =
          opts.schema === 'fixed'
            ? await loadFixed(tx, first.value, iterator, names, columns, unit, unstorable, lines)
            : await loadWithSchema(tx, first.value, iterator, names, columns, unit, unstorable);
        unstorable.finish();
        if (!unit.dataset) return result;
        // Where each source column went: the table may leave some out (ignore_new).
        const has = (await tableColumns(tx, table))!;
        const targets = names.slice(1);
        return {
          ...result,
          columns: sourceColumns.map((c, i) => ({
            source: c.name,
            target: has.has(targets[i]!) ? targets[i]! : null,
          })),
        };
      } catch (error) {
        throw asTargetMismatch(error, unit, lines);
      }
    },

    async afterLoad(tx) {
      await runSql(tx, opts.afterLoad);
    },

    async finishRun(tx, run) {
      if (opts.mode === 'replace' && !run.loadedAny && (await tableColumns(tx, table))) {
        await tx.query(`TRUNCATE ${target}`);
      }
      await runSql(tx, opts.afterRun);
    },
  };
}

const DATASET_COLUMN: Column = { name: DATASET_ID_COLUMN, type: 'bigint' };

/** The batches (`first`, then the rest) with the dataset's id first in every row and column list. */
async function* withDatasetId(
  first: RecordBatch,
  rest: AsyncIterator<RecordBatch>,
  id: string,
): AsyncIterable<RecordBatch> {
  for (let batch: RecordBatch | undefined = first; batch;) {
    for (const row of batch.rows) row.unshift(id);
    yield { ...batch, columns: [DATASET_COLUMN, ...batch.columns] };
    const next = await rest.next();
    batch = next.done ? undefined : next.value;
  }
}

/** The guard `toCopyBytes` calls for a value PostgreSQL cannot store; `refused` gathers the rows left out. */
function refusedCell(
  batch: RecordBatch,
  unstorable: UnstorableCharacters,
  refused: Set<number>,
): RefusedCell {
  return (r, index, text, at, rule) => {
    const replacement = unstorable.refused(batch, r, index, text, at, rule);
    if (replacement === null) refused.add(r);
    return replacement;
  };
}

/** A COPY text file as chunks of whole lines (PGlite copies chunk groups as they come). */
async function* lineChunks(file: string): AsyncIterable<Uint8Array> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const data of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const buffer = rest.length > 0 ? Buffer.concat([rest, data]) : data;
    const end = buffer.lastIndexOf(10);
    if (end < 0) {
      rest = buffer;
      continue;
    }
    yield buffer.subarray(0, end + 1);
    rest = buffer.subarray(end + 1);
  }
  if (rest.length > 0) yield rest;
}
