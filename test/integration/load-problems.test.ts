import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { runPipelineFile, tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../helpers/test-mysql-database.js';

/**
 * Problems tied to one file, through whole runs into each loader: the file is rejected (ledger, reason,
 * moved to `rejected/`) or its rows are, and the other files of the run still load.
 */
let control: TestDatabase;
let db: Database;
let mysql: TestMysqlDatabase;
let home: string;

beforeAll(async () => {
  home = await tempDir('sluice-problems-');
  [control, mysql] = await Promise.all([createTestDatabase(), createTestMysqlDatabase()]);
  db = await openStore({ databaseUrl: control.url, home });
});
afterAll(async () => {
  await db?.close();
  await control?.drop();
  await mysql?.drop();
});

type Kind = 'postgres' | 'mysql';

interface Target {
  load(table: string): string;
  exec(sql: string): Promise<void>;
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** Column name → type, as the target names them, in table order. */
  columns(table: string): Promise<[string, string][]>;
  maxColumns: number;
}

const targets: Record<Kind, Target> = {
  postgres: {
    load: (table) => `type: postgres, table: ${table}`,
    exec: (sql) => db.exec(sql),
    rows: async (sql) => (await db.query(sql)).rows,
    async columns(table) {
      const { rows } = await db.query<{ name: string; type: string }>(
        `SELECT column_name AS name, data_type AS type FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
        [table],
      );
      return rows.map((r) => [r.name, r.type]);
    },
    maxColumns: 1600,
  },
  mysql: {
    load: (table) => `type: mysql, url: "\${MYSQL_URL}", table: ${table}`,
    exec: async (sql) => void (await mysql.query(sql)),
    rows: (sql) => mysql.query(sql),
    async columns(table) {
      const rows = await mysql.query<{ name: string; type: string }>(
        `SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
        [table],
      );
      return rows.map((r) => [r.name, r.type]);
    },
    maxColumns: 1017,
  },
};

/** A folder of files and a pipeline loading them; `load` is the rest of the load section. */
async function pipeline(
  name: string,
  kind: Kind,
  options: { load?: string; parse?: string; files: Record<string, string | Buffer> },
) {
  const dir = path.join(home, name);
  await mkdir(path.join(dir, 'in'), { recursive: true });
  for (const [file, content] of Object.entries(options.files))
    await writeFile(path.join(dir, 'in', file), content);
  const file = path.join(dir, 'pipeline.yaml');
  const table = name.replaceAll('-', '_');
  await writeFile(
    file,
    `name: ${name}
source: { url: "\${IN}" }
parse: { ${options.parse ?? 'type: csv'} }
load: { ${targets[kind].load(table)}${options.load ? `, ${options.load}` : ''} }
`,
  );
  const summary = await runPipelineFile(db, file, {
    env: { IN: path.join(dir, 'in'), MYSQL_URL: mysql.url },
    home,
  });
  const ledger = (
    await db.query<{ name: string; status: string; reason: string | null }>(
      `SELECT name, status, reason FROM sluice.files WHERE pipeline = $1 ORDER BY name`,
      [name],
    )
  ).rows;
  const rejects = (
    await db.query<{
      file: string;
      line: number | null;
      column_name: string | null;
      rule: string;
      message: string;
    }>(
      `SELECT file, line, column_name, rule, message FROM sluice.rejects WHERE run_id = $1 ORDER BY file, line`,
      [summary.runId],
    )
  ).rows;
  const rejectedFolder = await readdir(path.join(dir, 'in', 'rejected')).catch(() => []);
  return { summary, ledger, rejects, rejectedFolder, table };
}

const csv = (header: string[], ...rows: string[][]) =>
  [header, ...rows].map((cells) => cells.join(',')).join('\n') + '\n';

describe.each(['postgres', 'mysql'] as const)('file-level problems into %s', (kind) => {
  const t = targets[kind];
  const name = (what: string) => `${kind}-${what}`;

  it('a header wider than the table allows rejects that file; the other file of the run loads', async () => {
    const wide = Array.from({ length: t.maxColumns + 1 }, (_, i) => `c${i}`);
    const p = await pipeline(name('wide'), kind, {
      files: {
        'a-wide.csv': csv(
          wide,
          wide.map(() => '1'),
        ),
        'b-good.csv': csv(['c0', 'c1'], ['1', '2']),
      },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, filesRejected: 1, rowsLoaded: 1 });
    expect(p.ledger).toEqual([
      {
        name: 'a-wide.csv',
        status: 'rejected',
        reason: expect.stringMatching(
          new RegExp(`${t.maxColumns + 1} columns; a .* table holds at most ${t.maxColumns}`),
        ),
      },
      { name: 'b-good.csv', status: 'loaded', reason: null },
    ]);
    expect(p.rejectedFolder).toEqual(['a-wide.csv']);
    expect(await t.rows(`SELECT c0, c1 FROM ${p.table}`)).toHaveLength(1);
  });

  it('columnNames keep: an empty header cell or one holding NUL rejects the file, naming the column', async () => {
    const p = await pipeline(name('keep-bad'), kind, {
      load: 'columnNames: keep',
      files: {
        'a-empty.csv': 'id,,name\n1,x,ann\n',
        'b-nul.csv': Buffer.from('id,na\u0000me\n1,ann\n'),
        'c-good.csv': 'id,name\n2,bob\n',
      },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, filesRejected: 2 });
    expect(p.ledger.map((f) => [f.name, f.status])).toEqual([
      ['a-empty.csv', 'rejected'],
      ['b-nul.csv', 'rejected'],
      ['c-good.csv', 'loaded'],
    ]);
    expect(p.ledger[0]!.reason).toMatch(/column 2 \(""\): an empty name/);
    expect(p.ledger[1]!.reason).toMatch(/column 2 \("na\\u0000me"\): a NUL character in its name/);
    expect(p.rejects.map((r) => [r.file, r.rule])).toEqual([
      ['a-empty.csv', 'layout'],
      ['b-nul.csv', 'layout'],
    ]);
    expect(await t.rows(`SELECT id, name FROM ${p.table}`)).toEqual([{ id: '2', name: 'bob' }]);
  });

  it('a column the table lacks (schema fixed) rejects that file, naming the column', async () => {
    await t.exec(`CREATE TABLE ${kind}_lacking (id int, name text)`);
    const p = await pipeline(name('lacking'), kind, {
      load: 'createTable: false',
      files: {
        'a.csv': csv(['id', 'name', 'extra'], ['1', 'ann', 'x']),
        'b.csv': csv(['id', 'name'], ['2', 'bob']),
      },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, filesRejected: 1 });
    expect(p.ledger[0]).toMatchObject({
      name: 'a.csv',
      status: 'rejected',
      reason: expect.stringMatching(/table \w+_lacking has no column "extra"/),
    });
    expect(await t.rows(`SELECT id, name FROM ${p.table}`)).toEqual([{ id: 2, name: 'bob' }]);
  });

  it('a value that does not cast into a typed column rejects that file, naming the column and line', async () => {
    await t.exec(`CREATE TABLE ${kind}_typed (id int, amount decimal(10,2))`);
    const p = await pipeline(name('typed'), kind, {
      files: {
        'a.csv': csv(['id', 'amount'], ['1', '1.50'], ['two', '2.00'], ['3', '3.00']),
        'b.csv': csv(['id', 'amount'], ['4', '4.25']),
      },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, filesRejected: 1, rowsLoaded: 1 });
    expect(p.ledger[0]).toMatchObject({ name: 'a.csv', status: 'rejected' });
    expect(p.ledger[0]!.reason).toMatch(/column "id"/);
    expect(p.ledger[0]!.reason).toMatch(/two/);
    expect(p.rejects).toEqual([expect.objectContaining({ file: 'a.csv', line: 3, rule: 'layout' })]);
    expect((await t.rows(`SELECT id FROM ${p.table}`)).map((r) => Number(r.id))).toEqual([4]);
  });
});

describe('file-level problems into postgres: schemas that infer', () => {
  it('a value that does not cast into an existing column under schema evolve rejects the file, naming it', async () => {
    await db.exec(`CREATE TABLE evolving (id int, at date)`);
    const p = await pipeline('evolving', 'postgres', {
      load: 'schema: ignore_new',
      files: {
        'a.csv': csv(['id', 'at'], ['1', '2026-11-01'], ['2', 'soon']),
        'b.csv': csv(['id', 'at'], ['3', '2026-11-03']),
      },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, filesRejected: 1 });
    expect(p.ledger[0]!.reason).toMatch(/column "at" \(date\): invalid input syntax for type date: "soon"/);
    expect(await db.query('SELECT id FROM evolving')).toMatchObject({ rows: [{ id: 3 }] });
  });

  it('schema strict: a file missing a column of the table is rejected, naming it', async () => {
    await db.exec(`CREATE TABLE strictly (id int, name text)`);
    const p = await pipeline('strictly', 'postgres', {
      load: 'schema: strict',
      files: { 'a.csv': csv(['id'], ['1']), 'b.csv': csv(['name', 'id'], ['bob', '2']) },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, filesRejected: 1 });
    expect(p.ledger[0]!.reason).toMatch(/missing "name"; new none/);
  });
});

describe.each(['postgres', 'mysql'] as const)('characters the target cannot store, into %s', (kind) => {
  const t = targets[kind];

  it('a lone surrogate rejects its row, naming line and column; strip removes it with a warning', async () => {
    const json =
      '{"id": 1, "note": "ok"}\n{"id": 2, "note": "half \\ud83d pair"}\n{"id": 3, "note": "fine 😀"}\n';
    const rejecting = await pipeline(`${kind}-surrogate`, kind, {
      parse: 'type: json, format: jsonl',
      files: { 'a.jsonl': json },
    });
    expect(rejecting.summary).toMatchObject({ status: 'succeeded', rowsLoaded: 2, rowsRejected: 1 });
    expect(rejecting.rejects).toEqual([
      {
        file: 'a.jsonl',
        line: 2,
        column_name: 'note',
        rule: 'unstorable',
        message: expect.stringMatching(/column "note" holds a lone surrogate U\+D83D at character 6/),
      },
    ]);
    expect((await t.rows(`SELECT note FROM ${rejecting.table} ORDER BY id`)).map((r) => r.note)).toEqual([
      'ok',
      'fine 😀',
    ]);

    const stripping = await pipeline(`${kind}-surrogate-strip`, kind, {
      parse: 'type: json, format: jsonl',
      load: 'unstorableCharacters: strip',
      files: { 'a.jsonl': json },
    });
    expect(stripping.summary).toMatchObject({ status: 'succeeded', rowsLoaded: 3, rowsRejected: 0 });
    expect(stripping.summary.warnings.join('\n')).toMatch(
      /stripped 1 character .* from column "note" of a\.jsonl, in 1 row, the first at line 2/,
    );
    expect((await t.rows(`SELECT note FROM ${stripping.table} ORDER BY id`)).map((r) => r.note)).toEqual([
      'ok',
      'half  pair',
      'fine 😀',
    ]);
  });
});

describe('characters the target cannot store, by target', () => {
  it('postgres: NUL in a value rejects the row with its line and column, and strip removes it', async () => {
    const file = Buffer.from('id,note\n1,ok\n2,a\u0000b\n3,fine\n');
    const p = await pipeline('pg-nul', 'postgres', { files: { 'a.csv': file } });
    expect(p.summary).toMatchObject({ status: 'succeeded', rowsLoaded: 2, rowsRejected: 1 });
    expect(p.rejects).toEqual([
      {
        file: 'a.csv',
        line: 3,
        column_name: 'note',
        rule: 'unstorable',
        message: 'column "note" holds U+0000 (NUL) at character 2, which PostgreSQL text cannot store',
      },
    ]);
    const stripped = await pipeline('pg-nul-strip', 'postgres', {
      load: 'unstorableCharacters: strip, schema: evolve',
      files: { 'a.csv': file },
    });
    expect(stripped.summary).toMatchObject({ rowsLoaded: 3, rowsRejected: 0 });
    expect((await db.query('SELECT note FROM pg_nul_strip ORDER BY id')).rows).toEqual([
      { note: 'ok' },
      { note: 'ab' },
      { note: 'fine' },
    ]);
  });

  it('mysql: NUL loads; a utf8mb3 column refuses emoji and a latin1 column Chinese, row by row', async () => {
    await mysql.query(
      `CREATE TABLE narrow (id int, legacy text CHARACTER SET utf8mb3, western text CHARACTER SET latin1, modern text CHARACTER SET utf8mb4)`,
    );
    const p = await pipeline('narrow', 'mysql', {
      load: 'createTable: false',
      files: {
        'a.csv': Buffer.from(
          [
            'id,legacy,western,modern',
            '1,plain,café €,a\u0000b',
            '2,smile 😀,x,y',
            '3,x,中文,y',
            '4,ñandú,Œuvre,😀',
          ].join('\n') + '\n',
        ),
      },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', rowsLoaded: 2, rowsRejected: 2 });
    expect(p.rejects.map((r) => [r.line, r.column_name, r.rule, r.message])).toEqual([
      [
        3,
        'legacy',
        'unstorable',
        'column "legacy" holds U+1F600 "😀" at character 7, which a utf8mb3 column cannot store',
      ],
      [
        4,
        'western',
        'unstorable',
        'column "western" holds U+4E2D "中" at character 1, which a latin1 column cannot store',
      ],
    ]);
    expect(await mysql.query('SELECT id, legacy, western, modern FROM narrow ORDER BY id')).toEqual([
      { id: 1, legacy: 'plain', western: 'café €', modern: 'a\u0000b' },
      { id: 4, legacy: 'ñandú', western: 'Œuvre', modern: '😀' },
    ]);
  });
});

describe('column names by each database’s rules', () => {
  it('postgres: system column names load as name_, long names are cut to 63 bytes and made unique, with warnings', async () => {
    // 62 bytes (é takes two), then ñ (two more): the cut at 63 bytes cannot take the ñ.
    const prefix = 'Teléfono del cliente '.padEnd(61, '.');
    const long = `${prefix}ñandú`;
    const p = await pipeline('pg-names', 'postgres', {
      load: 'columnNames: keep',
      files: {
        'a.csv': csv(
          ['xmin', 'ctid', 'tableoid', 'Name', 'name', `${long} A`, `${long} B`],
          ['1', '2', '3', 'x', 'y', 'a', 'b'],
        ),
      },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 1 });
    const columns = (await targets.postgres.columns('pg_names')).map(([n]) => n);
    expect(columns).toEqual([
      'xmin_',
      'ctid_',
      'tableoid_',
      'Name',
      'name',
      expect.any(String),
      expect.any(String),
    ]);
    expect(columns[5]).toBe(prefix);
    expect(Buffer.byteLength(columns[5]!)).toBe(62);
    expect(columns[6]).toBe(`${prefix.slice(0, -1)}_2`);
    expect(Buffer.byteLength(columns[6]!)).toBe(63);
    const warnings = p.summary.warnings.join('\n');
    expect(warnings).toMatch(
      /column 1 \("xmin"\) loads as "xmin_": PostgreSQL reserves the name for a system column/,
    );
    expect(warnings).toMatch(/column 6 .* longer than PostgreSQL's limit of 63 bytes/);
    expect(warnings).toMatch(
      /column 7 .* loads as ".*_2": longer than .*; an earlier column has the same name/,
    );
    expect((await db.query('SELECT xmin_, ctid_, "Name", name FROM pg_names')).rows).toEqual([
      { xmin_: '1', ctid_: '2', Name: 'x', name: 'y' },
    ]);
  });

  // (A header's trailing spaces never reach MySQL's rule here: the CSV parser trims header cells.)
  it('mysql: names cut to 64 characters, names equal but for case made unique, with warnings', async () => {
    const long = 'ñ'.repeat(70);
    const p = await pipeline('my-names', 'mysql', {
      load: 'columnNames: keep',
      files: { 'a.csv': csv(['xmin', 'Name', 'name', long], ['1', 'x', 'y', 'z']) },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1, rowsLoaded: 1 });
    expect((await targets.mysql.columns('my_names')).map(([n]) => n)).toEqual([
      'xmin',
      'Name',
      'name_2',
      'ñ'.repeat(64),
    ]);
    const warnings = p.summary.warnings.join('\n');
    expect(warnings).toMatch(/column 3 \("name"\) loads as "name_2": an earlier column has the same name/);
    expect(warnings).toMatch(/column 4 .* longer than MySQL's limit of 64 characters/);
  });
});

describe('types inferred from text keep the data', () => {
  it('schema evolve: codes with leading zeros or signs, exponents, huge integers, NaN and impossible dates stay text, exactly as written', async () => {
    const p = await pipeline('inferred', 'postgres', {
      load: 'schema: evolve',
      files: {
        'a.csv': csv(
          [
            'postcode',
            'phone',
            'code',
            'zeros',
            'big',
            'nan',
            'inf',
            'day',
            'amount',
            'count',
            'flag',
            'sex',
            'at',
          ],
          [
            '08123',
            '+34612345678',
            '1e5',
            '00',
            '123456789012345678901234567890',
            'NaN',
            'Infinity',
            '2026-02-30',
            '1.50',
            '7',
            'true',
            'F',
            '2026-11-01 10:00:00',
          ],
          [
            '28001',
            '+34699999999',
            '2E3',
            '01',
            '1',
            '1',
            '2',
            '2026-02-28',
            '-2.00',
            '-3',
            'FALSE',
            'F',
            '2026-11-02 10:00:00.5',
          ],
        ),
      },
    });
    expect(p.summary).toMatchObject({ status: 'succeeded', rowsLoaded: 2 });
    expect(Object.fromEntries(await targets.postgres.columns('inferred'))).toEqual({
      postcode: 'text',
      phone: 'text',
      code: 'text',
      zeros: 'text',
      big: 'text',
      nan: 'text',
      inf: 'text',
      day: 'text',
      amount: 'numeric',
      count: 'integer',
      flag: 'boolean',
      sex: 'text',
      at: 'timestamp without time zone',
    });
    const read = `SELECT postcode, phone, code, zeros, big, nan, inf, day, amount::text, count::text, sex FROM inferred ORDER BY postcode`;
    expect((await db.query(read)).rows).toEqual([
      {
        postcode: '08123',
        phone: '+34612345678',
        code: '1e5',
        zeros: '00',
        big: '123456789012345678901234567890',
        nan: 'NaN',
        inf: 'Infinity',
        day: '2026-02-30',
        amount: '1.50',
        count: '7',
        sex: 'F',
      },
      {
        postcode: '28001',
        phone: '+34699999999',
        code: '2E3',
        zeros: '01',
        big: '1',
        nan: '1',
        inf: '2',
        day: '2026-02-28',
        amount: '-2.00',
        count: '-3',
        sex: 'F',
      },
    ]);

    // A later file that needs text widens the columns; what the earlier file loaded reads back unchanged.
    const later = await pipeline('inferred', 'postgres', {
      load: 'schema: evolve',
      files: {
        'b.csv': csv(['postcode', 'amount', 'count', 'flag'], ['41001', 'about 3', 'n/a', 'maybe']),
      },
    });
    expect(later.summary).toMatchObject({ status: 'succeeded', filesLoaded: 1 });
    expect(Object.fromEntries(await targets.postgres.columns('inferred'))).toMatchObject({
      amount: 'text',
      count: 'text',
      flag: 'text',
    });
    expect((await db.query('SELECT amount, count, flag FROM inferred ORDER BY postcode')).rows).toEqual([
      { amount: '1.50', count: '7', flag: 'true' },
      { amount: '-2.00', count: '-3', flag: 'false' },
      { amount: 'about 3', count: 'n/a', flag: 'maybe' },
    ]);
  });
});
