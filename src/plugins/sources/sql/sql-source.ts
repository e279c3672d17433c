import { defineRecordSource, type RecordUnit } from '../../../core/plugin.js';
import type { Reject, Value } from '../../../core/records.js';
import { SluiceError } from '../../../core/errors.js';
import { formatDuration } from '../../../core/duration.js';
import { redactUrl } from '../../../core/sql.js';
import {
  readFrom,
  sqlSourceOptions,
  withMode,
  type SqlSourceOptions,
  type Watermark,
} from './sql-options.js';
import type { SqlReader } from './sql-reader.js';

/** The state key of the watermark: one per pipeline, since a sql pipeline reads one table or query. */
export const WATERMARK_KEY = 'watermark';

/** A table or query of PostgreSQL or MySQL/MariaDB, read in batches, incrementally past a watermark. */
export const sqlSource = defineRecordSource({
  name: 'sql',
  summary:
    'A PostgreSQL or MySQL/MariaDB table or query, streamed in batches; incremental past a watermark, full refresh or a sliding window.',
  options: sqlSourceOptions,
  schemes: ['postgres', 'postgresql', 'mysql', 'mariadb'],
  async open(parsed, context) {
    const options = withMode(parsed);
    const location = redactUrl(options.url);
    const reader: SqlReader = /^(mysql|mariadb):/.test(options.url)
      ? await (await import('./mysql-reader.js')).openMysqlReader(options, location)
      : await (await import('./postgres-reader.js')).openPostgresReader(options, location);
    const name = options.table ?? 'query';
    return {
      location: `${location} ${name}`,
      async *units() {
        const saved = await context.state?.get<Watermark>(WATERMARK_KEY);
        const from = readFrom(options, saved);
        if (saved && options.incrementalColumn && saved.column !== options.incrementalColumn) {
          context.logger.warn(
            `the saved watermark follows ${saved.column}, not ${options.incrementalColumn}: reading as on a first run`,
          );
        }
        context.logger.info(describeRead(options, from));
        yield createUnit(options, reader, from, saved, context.signal, name);
      },
      close: () => reader.close(),
    };
  },
});

function createUnit(
  options: SqlSourceOptions,
  reader: SqlReader,
  from: ReturnType<typeof readFrom>,
  saved: Watermark | undefined,
  signal: AbortSignal,
  name: string,
): RecordUnit {
  let watermark: string | undefined;
  return {
    key: `sql:${name}`,
    name,
    // A table's primary key is unique; for a query the user's word is taken (a merge falls back if not).
    ...(options.primaryKey.length > 0 ? { uniqueBy: options.primaryKey } : {}),
    async *read() {
      const read = await reader.read(from, signal);
      const keyIndexes = options.primaryKey.map((k) => {
        const i = read.columns.findIndex((c) => c.name === k);
        if (i < 0) {
          throw new SluiceError(
            'CONFIG_INVALID',
            `the primary key column ${k} is not among the columns read`,
            {
              where: 'source.primaryKey',
              hint: `The source has: ${read.columns.map((c) => c.name).join(', ')}`,
            },
          );
        }
        return i;
      });
      let rowNumber = 0;
      let rows: Value[][] = [];
      let lines: number[] = [];
      let rejects: Reject[] = [];
      let rejected = 0;
      const flush = () => {
        const out = {
          batch: { columns: read.columns, rows, origin: name, lines },
          rejects,
          rejectedRows: rejected,
        };
        rows = [];
        lines = [];
        rejects = [];
        rejected = 0;
        return out;
      };
      for await (const chunk of read.rows) {
        for (const row of chunk) {
          rowNumber++;
          const nullKey = keyIndexes.find((i) => row[i] === null || row[i] === undefined);
          if (nullKey !== undefined) {
            const column = read.columns[nullKey]!.name;
            rejects.push({
              origin: name,
              line: rowNumber,
              column,
              rule: 'key',
              value: null,
              message: `key column ${column} is null`,
              raw: JSON.stringify(row),
            });
            rejected++;
            continue;
          }
          rows.push(row);
          lines.push(rowNumber);
          if (rows.length + rejected >= options.batchSize) yield flush();
        }
      }
      if (rows.length > 0 || rejected > 0) yield flush();
      watermark = read.watermark();
    },
    stateAfter() {
      // Nothing read: the watermark stays where it was. Otherwise it is the greatest value read.
      if (!options.incrementalColumn || watermark === undefined) return {};
      if (saved && saved.column === options.incrementalColumn && saved.value === watermark) return {};
      return { [WATERMARK_KEY]: { column: options.incrementalColumn, value: watermark } satisfies Watermark };
    },
  };
}

function describeRead(options: SqlSourceOptions, from: ReturnType<typeof readFrom>): string {
  const what = options.table ?? 'the query';
  switch (from.kind) {
    case 'all':
      return `reading all of ${what} (${options.mode}${options.mode === 'full_refresh' ? '' : ', no watermark yet'})`;
    case 'recent':
      return `reading ${what} where ${from.column} is within the last ${formatDuration(from.lookbackMs)} (first run)`;
    case 'after':
      return from.lookbackMs
        ? `reading ${what} where ${from.column} >= ${from.value} less ${formatDuration(from.lookbackMs)}`
        : `reading ${what} where ${from.column} > ${from.value}`;
  }
}
