import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { mergeNeedsKeys, sqlSteps, tableWriteOptions } from '../table-options.js';
import { sqlState } from '../../../core/database-errors.js';
import { SluiceError } from '../../../core/errors.js';
import { defineLoader, type LoadSession, type LoadUnit, type Logger } from '../../../core/plugin.js';
import type { Column, ColumnType, RecordBatch } from '../../../core/records.js';
import {
  parseTableName,
  POSTGRES_MAX_IDENTIFIER_BYTES,
  quoteIdent,
  quoteTable,
  targetColumnNames,
  type SqlClient,
  type TableName,
} from '../../../core/sql.js';
import { withoutNullKeys } from '../null-keys.js';
import { createCopyScratch, toCopyBytes } from './copy-text.js';
import { createTypeInference, widenType } from './infer-types.js';
import { addColumn, changeColumnType, columnTypeOf, createTable, tableColumns } from './table-schema.js';

const options = z
  .strictObject({
    table: z.string().min(1).describe('Target table, `table` or `schema.table`.'),
    ...tableWriteOptions,
    keys: z.array(z.string().min(1)).default([]).describe('Key columns for merge (target column names).'),
    schema: z
      .enum(['fixed', 'evolve', 'ignore_new', 'strict'])
      .default('fixed')
      .describe(
        "fixed: create a missing table (check types, else text), refuse a file with a column the table lacks; evolve: infer types, add new columns and widen types as the data needs; ignore_new: load only the table's columns, warn about the others; strict: refuse a file whose columns differ from the table's. All but fixed infer the types of a new table from the data.",
      ),
    setup: sqlSteps.describe('SQL run once at the start of each run (such as CREATE TABLE IF NOT EXISTS).'),
    afterLoad: sqlSteps.describe(
      "SQL run after each file's rows and rejects, in the same transaction. Temp table `staged` holds the rows just loaded; sluice.run_id(), sluice.as_of(), sluice.file_name(), sluice.file_id() describe the load.",
    ),
    afterRun: sqlSteps.describe(
      'SQL run once when a run finishes without failing, in its own transaction; sluice.run_id() and sluice.as_of() are set.',
    ),
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
    maxIdentifierLength: POSTGRES_MAX_IDENTIFIER_BYTES,
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
      const result = await tx.query(
        `INSERT INTO ${target} (${cols})
         SELECT DISTINCT ON (${keys}) ${cols} FROM staged ORDER BY ${keys}, ctid DESC
         ON CONFLICT (${keys}) ${update}`,
      );
      rowsLoaded = staged;
      logger.debug(`merged ${staged} rows into ${opts.table}`, { changed: result.rowCount });
    } else {
      if (opts.mode === 'replace' && unit.firstOfRun) await tx.query(`TRUNCATE ${target}`);
      const result = await tx.query(`INSERT INTO ${target} (${cols}) SELECT ${cols} FROM staged`);
      rowsLoaded = result.rowCount;
    }
    return { rowsLoaded };
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
          const list = (l: string[]) => (l.length > 0 ? l.map((n) => `"${n}"`).join(', ') : 'none');
          throw new SluiceError(
            'LAYOUT_MISMATCH',
            `the columns of the file do not match table ${opts.table}: missing ${list(missing)}; new ${list(added)}`,
            {
              where: unit.origin,
              hint: 'Fix the file, or change the table; schema: evolve adds new columns.',
            },
          );
        }
      } else if (opts.schema === 'ignore_new' && added.length > 0) {
        logger.warn(`ignoring columns table ${opts.table} does not have: ${added.join(', ')}`, {
          origin: unit.origin,
          columns: added,
        });
        indexes = indexes.filter((i) => has.has(fileNames[i]!));
      }
    }
    const names = indexes.map((i) => fileNames[i]!);
    const badKeys = opts.keys.filter((k) => !names.includes(k));
    if (badKeys.length > 0) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `load.keys: ${badKeys.join(', ')} not among the columns ${names.join(', ')}`,
      );
    }

    const cols = names.map(quoteIdent).join(', ');
    await tx.query('DROP TABLE IF EXISTS pg_temp.sluice_raw');
    await tx.query(
      `CREATE TEMP TABLE sluice_raw (${names.map((n) => `${quoteIdent(n)} text`).join(', ')}) ON COMMIT DROP`,
    );
    const inference = createTypeInference(names.length);
    const keyIndexes = opts.mode === 'merge' ? opts.keys.map((k) => fileNames.indexOf(k)) : [];
    async function* copyChunks(): AsyncIterable<Uint8Array> {
      let batch: RecordBatch | undefined = first;
      while (batch) {
        batch = await withoutNullKeys(batch, keyIndexes, unit);
        if (batch.rows.length > 0) {
          inference.add(batch.rows, indexes);
          yield toCopyBytes(batch.rows, indexes, scratch);
        }
        const next = await iterator.next();
        batch = next.done ? undefined : next.value;
      }
    }
    await tx.copyFrom({ name: 'sluice_raw' }, names, copyChunks());
    const inferred = inference.types();
    // A type a check gave wins over the inferred one; undefined: only nulls, nothing to learn.
    const needed = indexes.map((i, k): ColumnType | undefined => columns[i]!.type ?? inferred[k]);

    if (!existing) {
      await createTable(
        tx,
        table,
        names.map((name, k) => ({ name, type: needed[k] ?? 'text' })),
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
          await addColumn(tx, table, name, need ?? 'text');
          logger.info(`added column ${name} ${need ?? 'text'} to ${opts.table}`);
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
    if (opts.mode !== 'merge' && !opts.afterLoad) {
      if (opts.mode === 'replace' && unit.firstOfRun) await tx.query(`TRUNCATE ${target}`);
      const result = await tx.query(`INSERT INTO ${target} (${cols}) SELECT ${casts} FROM sluice_raw`);
      return { rowsLoaded: result.rowCount };
    }
    return mergeOrInsert(tx, names, unit, async () => {
      await tx.query('DROP TABLE IF EXISTS pg_temp.staged');
      await tx.query(`CREATE TEMP TABLE staged ON COMMIT DROP AS SELECT ${cols} FROM ${target} WITH NO DATA`);
      const result = await tx.query(`INSERT INTO staged (${cols}) SELECT ${casts} FROM sluice_raw`);
      return result.rowCount;
    });
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

  return {
    async startRun(tx) {
      await runSql(tx, opts.setup);
    },

    async load(tx, batches, unit) {
      const iterator = batches[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done) throw new Error('a load unit must carry at least one (possibly empty) batch');
      const names = targetColumnNames(
        first.value.columns.map((c) => c.name),
        opts.columnNames,
      );
      const columns: Column[] = first.value.columns.map((c, i) => ({
        name: names[i]!,
        ...(c.type ? { type: c.type } : {}),
      }));

      if (opts.schema !== 'fixed') return loadWithSchema(tx, first.value, iterator, names, columns, unit);

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
      const missing = names.filter((n) => !existing.has(n));
      if (missing.length > 0) {
        throw new SluiceError(
          'LOAD_FAILED',
          `table ${opts.table} has no column ${missing.map((m) => `"${m}"`).join(', ')}; it has ${[...existing.keys()].join(', ')}`,
          { where: unit.origin, hint: 'Add the columns to the table, or rename them in the pipeline.' },
        );
      }
      const badKeys = opts.keys.filter((k) => !names.includes(k));
      if (badKeys.length > 0) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `load.keys: ${badKeys.join(', ')} not among the columns ${names.join(', ')}`,
        );
      }

      const cols = names.map(quoteIdent).join(', ');
      const indexes = names.map((_, i) => i);
      // A row without its merge key is a reject, not a failure of the unit (NOT NULL would refuse it).
      const keyIndexes = opts.mode === 'merge' ? opts.keys.map((k) => names.indexOf(k)) : [];
      async function* copyChunks(): AsyncIterable<Uint8Array> {
        let batch: RecordBatch | undefined = first.value;
        while (batch) {
          batch = await withoutNullKeys(batch, keyIndexes, unit);
          if (batch.rows.length > 0) yield toCopyBytes(batch.rows, indexes, scratch);
          const next = await iterator.next();
          batch = next.done ? undefined : next.value;
        }
      }

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
        uniqueByKeys(unit, first.value.columns, names) &&
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
        await tx.query(
          `CREATE TEMP TABLE staged ON COMMIT DROP AS SELECT ${cols} FROM ${target} WITH NO DATA`,
        );
        return tx.copyFrom({ name: 'staged' }, names, copyChunks());
      });
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
