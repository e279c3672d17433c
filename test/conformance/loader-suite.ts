import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { LoadResult, LoadSession, LoadUnit } from '../../src/core/plugin.js';
import type { ColumnType, RecordBatch, Reject } from '../../src/core/records.js';
import type { SqlClient } from '../../src/core/sql.js';

/** What the suite needs of a loader and its target. */
export interface LoaderTarget {
  /** Opens a session with these options; the harness adds what reaching the target takes (a URL). */
  open(options: Record<string, unknown>): Promise<LoadSession>;
  /** The control-plane transaction the runner loads a unit in (committed unless `work` throws). */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
  /** Every row of a table, each value as text or null, in no particular order. */
  rows(table: string): Promise<Record<string, string | null>[]>;
  /** Column name → the target's type name, in table order. */
  columnTypes(table: string): Promise<Record<string, string>>;
  /** Runs one statement on the target. */
  exec(sql: string): Promise<void>;
  /** The type names the target gives the check types the suite uses. */
  types: Record<'text' | 'integer' | 'timestamp', string>;
  /** The limit on names the loader declares (its capabilities). */
  identifierLimit: { max: number; unit: 'bytes' | 'characters' };
}

type Cell = string | null;
const RUN = '00000000-0000-0000-0000-000000000001';

async function* iterate(list: RecordBatch[]) {
  yield* list;
}

const batch = (
  columns: { name: string; type?: ColumnType }[],
  rows: Cell[][],
  firstLine = 2,
): RecordBatch => ({
  columns,
  rows,
  origin: 'test.csv',
  lines: rows.map((_, i) => i + firstLine),
  raw: rows.map((r) => r.join(',')),
});

/** Rows sorted by their JSON text, so that targets that order nulls differently compare equal. */
const sorted = (rows: Record<string, Cell>[]) =>
  [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/**
 * The behaviours every loader has, whatever its target: append, replace, merge with the last duplicate
 * winning and null keys rejected, tables created from check types, hostile identifiers, empty units, and a
 * unit retried after the control plane failed to commit that still loads once.
 */
export function loaderConformance(target: () => LoaderTarget): void {
  const t = () => target();

  async function load(
    session: LoadSession,
    batches: RecordBatch[],
    unit: Partial<LoadUnit> = {},
    options: { failAfter?: boolean } = {},
  ): Promise<LoadResult & { rejects: Reject[] }> {
    const rejects: Reject[] = [];
    const u: LoadUnit = {
      runId: RUN,
      asOf: '2026-11-27',
      origin: 'test.csv',
      key: randomUUID(),
      firstOfRun: true,
      reject: async (r) => void rejects.push(...r),
      ...unit,
    };
    const result = await t().transaction(async (tx) => {
      const r = await session.load(tx, iterate(batches), u);
      await session.afterLoad(tx, u);
      if (options.failAfter) throw new Error('the control plane could not commit');
      return r;
    });
    return { ...result, rejects };
  }

  describe('loader conformance', () => {
    it('creates a missing table with the types the checks gave, and appends text as written', async () => {
      const session = await t().open({ table: 'events', mode: 'append' });
      const cols = [
        { name: 'Event Name' },
        { name: 'count', type: 'integer' as const },
        { name: 'at', type: 'timestamp' as const },
      ];
      const first = await load(session, [
        batch(cols, [
          ['a\tb\\c', '1', '2026-11-01 10:00:00'],
          ['line\nbreak', null, null],
        ]),
        batch(cols, [['quote \' and " and `', '3', null]], 4),
      ]);
      expect(first.rowsLoaded).toBe(3);
      await load(session, [batch(cols, [['x', '2', '2026-11-02 10:00:00']])]);
      expect(sorted(await t().rows('events'))).toEqual(
        sorted([
          { event_name: 'a\tb\\c', count: '1', at: '2026-11-01 10:00:00' },
          { event_name: 'line\nbreak', count: null, at: null },
          { event_name: 'quote \' and " and `', count: '3', at: null },
          { event_name: 'x', count: '2', at: '2026-11-02 10:00:00' },
        ]),
      );
      expect(await t().columnTypes('events')).toEqual({
        event_name: t().types.text,
        count: t().types.integer,
        at: t().types.timestamp,
      });
    });

    it('replace empties the table on the first load of a run only, and at the end of a run that loaded nothing', async () => {
      const session = await t().open({ table: 'snap', mode: 'replace' });
      const cols = [{ name: 'v' }];
      await load(session, [batch(cols, [['old']])], { runId: randomUUID() });
      const run = randomUUID();
      await load(session, [batch(cols, [['new1']])], { runId: run, firstOfRun: true });
      await load(session, [batch(cols, [['new2']])], { runId: run, firstOfRun: false });
      expect(sorted(await t().rows('snap'))).toEqual([{ v: 'new1' }, { v: 'new2' }]);
      await t().transaction((tx) =>
        session.finishRun(tx, { runId: randomUUID(), asOf: '2026-11-27', loadedAny: false }),
      );
      expect(await t().rows('snap')).toEqual([]);
    });

    it('merge upserts on keys; the last of duplicate keys in one load wins, across batches too', async () => {
      const session = await t().open({ table: 'people', mode: 'merge', keys: ['id'] });
      const cols = [{ name: 'id', type: 'integer' as const }, { name: 'name' }];
      await load(session, [
        batch(cols, [
          ['1', 'ann'],
          ['2', 'bob'],
        ]),
      ]);
      const second = await load(session, [
        batch(cols, [
          ['2', 'bobby'],
          ['3', 'cy'],
          ['2', 'robert'],
          ['1', 'ann'],
        ]),
        batch(cols, [['3', 'cyrus']], 6),
      ]);
      expect(second.rowsLoaded).toBe(5);
      expect(sorted(await t().rows('people'))).toEqual([
        { id: '1', name: 'ann' },
        { id: '2', name: 'robert' },
        { id: '3', name: 'cyrus' },
      ]);
    });

    it('merge rejects a row whose key is null, naming its line, and loads the others', async () => {
      const session = await t().open({ table: 'keyed', mode: 'merge', keys: ['id', 'part'] });
      const cols = [{ name: 'id', type: 'integer' as const }, { name: 'part' }, { name: 'v' }];
      const result = await load(session, [
        batch(cols, [
          ['1', 'a', 'kept'],
          [null, 'a', 'no id'],
          ['2', null, 'no part'],
          ['3', 'c', 'kept too'],
        ]),
      ]);
      expect(result.rowsLoaded).toBe(2);
      expect(result.rejects).toEqual([
        expect.objectContaining({ origin: 'test.csv', line: 3, column: 'id', rule: 'key', raw: ',a,no id' }),
        expect.objectContaining({ origin: 'test.csv', line: 4, column: 'part', rule: 'key' }),
      ]);
      expect(sorted(await t().rows('keyed'))).toEqual([
        { id: '1', part: 'a', v: 'kept' },
        { id: '3', part: 'c', v: 'kept too' },
      ]);
    });

    it('quotes hostile identifiers', async () => {
      await t().exec('CREATE TABLE bystander (n integer)');
      const hostile = 'x"`; DROP TABLE bystander; --';
      const session = await t().open({ table: hostile, mode: 'append', columnNames: 'keep' });
      await load(session, [batch([{ name: 'select' }, { name: 'a"b' }, { name: 'c`d' }], [['1', '2', '3']])]);
      expect(await t().rows(hostile)).toEqual([{ select: '1', 'a"b': '2', 'c`d': '3' }]);
      expect(await t().rows('bystander')).toEqual([]);
    });

    it('refuses a unit with columns the table does not have (TARGET_MISMATCH: the runner rejects the file)', async () => {
      await t().exec('CREATE TABLE fixed (a text)');
      const session = await t().open({ table: 'fixed', createTable: false });
      const refused = load(session, [batch([{ name: 'a' }, { name: 'b' }], [['1', '2']])]);
      await expect(refused).rejects.toMatchObject({ code: 'TARGET_MISMATCH', where: 'test.csv' });
      await expect(refused).rejects.toThrow(/no column "b"/);
      expect(await t().rows('fixed')).toEqual([]);
    });

    it('refuses a unit with a value its typed column cannot take, naming the column and the line', async () => {
      await t().exec('CREATE TABLE typed_values (n integer, v text)');
      const session = await t().open({ table: 'typed_values' });
      const cols = [{ name: 'n' }, { name: 'v' }];
      const refused = load(session, [
        batch(cols, [
          ['1', 'a'],
          ['2', 'b'],
        ]),
        batch(cols, [['three', 'c']], 4),
      ]);
      await expect(refused).rejects.toMatchObject({ code: 'TARGET_MISMATCH', where: 'test.csv:4' });
      await expect(refused).rejects.toThrow(/column "n"/);
      expect(await t().rows('typed_values')).toEqual([]);
    });

    it('rejects a row holding a character no target can store (a lone surrogate), naming line and column; strip removes it', async () => {
      const cols = [{ name: 'id', type: 'integer' as const }, { name: 'note' }];
      const rows = [
        ['1', 'ok 😀'],
        ['2', 'half \ud83d'],
        ['3', 'fine'],
      ];
      const rejecting = await t().open({ table: 'surrogates' });
      const result = await load(rejecting, [batch(cols, rows)]);
      expect(result.rowsLoaded).toBe(2);
      expect(result.rejects).toEqual([
        expect.objectContaining({ origin: 'test.csv', line: 3, column: 'note', rule: 'unstorable' }),
      ]);
      const stripping = await t().open({ table: 'surrogates', unstorableCharacters: 'strip' });
      expect((await load(stripping, [batch(cols, rows)])).rejects).toEqual([]);
      expect(sorted(await t().rows('surrogates'))).toEqual(
        sorted([
          { id: '1', note: 'ok 😀' },
          { id: '3', note: 'fine' },
          { id: '1', note: 'ok 😀' },
          { id: '2', note: 'half ' },
          { id: '3', note: 'fine' },
        ]),
      );
    });

    it('cuts names kept as they are to the declared limit, and makes names equal after the cut unique', async () => {
      const { max, unit } = t().identifierLimit;
      // é is two bytes: the limit in é's, and the same less the two characters of "_2".
      const fits = (limit: number) => 'é'.repeat(unit === 'bytes' ? Math.floor(limit / 2) : limit);
      const session = await t().open({ table: 'long_names', columnNames: 'keep' });
      await load(session, [
        batch([{ name: `${'é'.repeat(70)}a` }, { name: `${'é'.repeat(70)}b` }], [['1', '2']]),
      ]);
      expect(Object.keys(await t().columnTypes('long_names'))).toEqual([fits(max), `${fits(max - 2)}_2`]);
      expect(await t().rows('long_names')).toEqual([{ [fits(max)]: '1', [`${fits(max - 2)}_2`]: '2' }]);
    });

    it('an empty unit loads nothing, creates the table, and still empties a replace target', async () => {
      const appending = await t().open({ table: 'empty_append', mode: 'append' });
      const result = await load(appending, [batch([{ name: 'v' }], [])]);
      expect(result).toEqual({ rowsLoaded: 0, rejects: [] });
      expect(await t().rows('empty_append')).toEqual([]);
      const replacing = await t().open({ table: 'empty_replace', mode: 'replace' });
      await load(replacing, [batch([{ name: 'v' }], [['old']])], { runId: randomUUID() });
      await load(replacing, [batch([{ name: 'v' }], [])], { runId: randomUUID(), firstOfRun: true });
      expect(await t().rows('empty_replace')).toEqual([]);
    });

    it('a unit retried after the control plane failed to commit loads once', async () => {
      const session = await t().open({ table: 'retried', mode: 'append' });
      const b = batch(
        [{ name: 'id', type: 'integer' }, { name: 'v' }],
        [
          ['1', 'a'],
          ['2', 'b'],
        ],
      );
      const key = randomUUID();
      await expect(load(session, [b], { key }, { failAfter: true })).rejects.toThrow(/could not commit/);
      const retry = await load(session, [b], { key });
      expect(retry.rowsLoaded).toBe(2);
      expect(sorted(await t().rows('retried'))).toEqual([
        { id: '1', v: 'a' },
        { id: '2', v: 'b' },
      ]);
    });

    it('a merge retried after the control plane failed to commit reports its null-key rejects again', async () => {
      const session = await t().open({ table: 'retried_merge', mode: 'merge', keys: ['id'] });
      const b = batch(
        [{ name: 'id' }, { name: 'v' }],
        [
          ['1', 'a'],
          [null, 'b'],
          ['1', 'c'],
        ],
      );
      const key = randomUUID();
      await expect(load(session, [b], { key }, { failAfter: true })).rejects.toThrow(/could not commit/);
      const retry = await load(session, [b], { key });
      expect(retry.rowsLoaded).toBe(2);
      expect(retry.rejects).toEqual([expect.objectContaining({ line: 3, rule: 'key' })]);
      expect(await t().rows('retried_merge')).toEqual([{ id: '1', v: 'c' }]);
    });
  });
}
