import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePipeline } from '../../src/core/spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { runPipeline } from '../../src/runner/run-pipeline.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../helpers/test-mysql-database.js';

/**
 * Tables Sluice creates from a `sql` source keep the source's types: PostgreSQL and MariaDB sources, into
 * PostgreSQL and into MariaDB, comparing the created column types and the values read back.
 */
let pgSource: TestDatabase;
let control: TestDatabase;
let src: pg.Client;
let maria: TestMysqlDatabase;
let mariaTarget: TestMysqlDatabase;
let db: Database;
let home: string;
const registry = createRegistry();

beforeAll(async () => {
  [pgSource, control, maria, mariaTarget] = await Promise.all([
    createTestDatabase(),
    createTestDatabase(),
    createTestMysqlDatabase(),
    createTestMysqlDatabase(),
  ]);
  src = new pg.Client({ connectionString: pgSource.url });
  await src.connect();
  home = await tempDir('sluice-sync-types-');
  db = await openStore({ databaseUrl: control.url, home });

  await src.query(`CREATE TYPE mood AS ENUM ('happy', 'sad');
    CREATE TABLE typed (
      id smallint PRIMARY KEY, at timestamptz NOT NULL, local timestamp(3), amount numeric(12,2),
      ratio double precision, tags text[], counts integer[], doc jsonb, raw json, uid uuid, span interval,
      addr inet, code varchar(5), day date, feeling mood);
    INSERT INTO typed VALUES
      (1, '2026-11-01 10:00:00.125+02', '2026-11-01 10:00:00.5', 1234567890.12, 0.1, '{a,"b c"}', '{1,2,NULL}',
       '{"k": [1, {"x": null}]}', '{"b":1,  "a":2}', '123e4567-e89b-12d3-a456-426614174000', '1 day 02:00:00',
       '10.0.0.1/8', 'ab', '2026-11-01', 'happy'),
      (2, '2026-11-02 00:00:00+00', NULL, -0.50, NULL, '{}', NULL, NULL, NULL, NULL, '-00:30:00', NULL, NULL,
       NULL, NULL)`);

  await maria.query(`SET time_zone = '+00:00'`);
  await maria.query(`CREATE TABLE typed (
      id int unsigned PRIMARY KEY, flag tinyint(1), small smallint, tiny tinyint, amount decimal(12,2),
      big bigint unsigned, ratio double, at timestamp(3) NULL, local datetime(6), day date, span time, yr year,
      doc json, name varchar(20), uid uuid)`);
  await maria.query(`INSERT INTO typed VALUES
      (1, 1, -32768, -5, 1234567890.12, 18446744073709551615, 0.25, '2026-11-01 10:00:00.125',
       '2026-11-01 10:00:00.000001', '2026-11-01', '838:59:59', 2026, '{"a": [1, 2]}', 'ñandú',
       '123e4567-e89b-12d3-a456-426614174000'),
      (2, 0, NULL, NULL, -0.50, 0, NULL, NULL, NULL, NULL, '-01:30:00', NULL, NULL, NULL, NULL)`);
});

afterAll(async () => {
  await db?.close();
  await src?.end();
  await Promise.all([pgSource?.drop(), control?.drop(), maria?.drop(), mariaTarget?.drop()]);
});

async function sync(name: string, source: string, load: string) {
  const spec = parsePipeline(
    `name: ${name}\nsource:\n  type: sql\n${source.replace(/^/gm, '  ')}\nload:\n${load.replace(/^/gm, '  ')}\n`,
    {
      env: { PG_SOURCE: pgSource.url, MARIA: maria.url, MARIA_TARGET: mariaTarget.url },
      registry,
    },
  );
  const summary = await runPipeline({ db, spec, registry, home });
  expect(summary).toMatchObject({ status: 'succeeded', rowsRejected: 0 });
  return summary;
}

/** Column → `format_type` of a table in the target (PostgreSQL). */
async function pgTypes(table: string): Promise<Record<string, string>> {
  const { rows } = await db.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.type]));
}

/** Column → COLUMN_TYPE of a table in the MariaDB target. */
async function mariaTypes(table: string): Promise<Record<string, string>> {
  const rows = await mariaTarget.query<{ name: string; type: string }>(
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.type]));
}

describe('types survive a sync', () => {
  it('PostgreSQL → PostgreSQL: timestamptz, numeric(p,s), arrays, json and jsonb, smallint and the other built-in types', async () => {
    await sync(
      'types-pg-pg',
      'url: ${PG_SOURCE}\ntable: typed\nprimaryKey: [id]',
      'type: postgres\ntable: typed_pg\nmode: merge\nkeys: [id]',
    );
    expect(await pgTypes('typed_pg')).toEqual({
      id: 'smallint',
      at: 'timestamp with time zone',
      local: 'timestamp(3) without time zone',
      amount: 'numeric(12,2)',
      ratio: 'double precision',
      tags: 'text[]',
      counts: 'integer[]',
      doc: 'jsonb',
      raw: 'json',
      uid: 'uuid',
      span: 'interval',
      addr: 'inet',
      code: 'character varying(5)',
      day: 'date',
      feeling: 'text', // an enum of the source database: its values, as text
    });
    const read = `SELECT id, (at AT TIME ZONE 'UTC')::text AS at, local::text, amount::text, ratio::text, tags::text,
      counts::text, doc::text, raw::text, uid::text, span::text, addr::text, code, day::text, feeling::text
      FROM typed ORDER BY id`;
    const source = (await src.query(read)).rows;
    expect(source[0]).toMatchObject({ at: '2026-11-01 08:00:00.125', raw: '{"b":1,  "a":2}' });
    expect((await db.query(read.replace('FROM typed', 'FROM typed_pg'))).rows).toEqual(source);
  });

  it('MariaDB → PostgreSQL: TIMESTAMP as timestamptz, DECIMAL(p,s), unsigned integers widened, TINYINT(1) as boolean when asked, JSON as jsonb, TIME as interval', async () => {
    await sync(
      'types-maria-pg',
      'url: ${MARIA}\ntable: typed\nprimaryKey: [id]\ntinyint1AsBoolean: true',
      'type: postgres\ntable: typed_maria\nmode: merge\nkeys: [id]',
    );
    expect(await pgTypes('typed_maria')).toEqual({
      id: 'bigint',
      flag: 'boolean',
      small: 'smallint',
      tiny: 'smallint',
      amount: 'numeric(12,2)',
      big: 'numeric(20,0)',
      ratio: 'double precision',
      at: 'timestamp(3) with time zone',
      local: 'timestamp(6) without time zone',
      day: 'date',
      span: 'interval',
      yr: 'smallint',
      doc: 'jsonb',
      name: 'text',
      uid: 'uuid',
    });
    const { rows } = await db.query(
      `SELECT id, flag, small, tiny, amount::text, big::text, ratio, (at AT TIME ZONE 'UTC')::text AS at,
              local::text, day::text, span::text, yr, doc::text, name, uid::text
         FROM typed_maria ORDER BY id`,
    );
    expect(rows).toEqual([
      {
        id: '1',
        flag: true,
        small: -32768,
        tiny: -5,
        amount: '1234567890.12',
        big: '18446744073709551615',
        ratio: 0.25,
        at: '2026-11-01 10:00:00.125',
        local: '2026-11-01 10:00:00.000001',
        day: '2026-11-01',
        span: '838:59:59',
        yr: 2026,
        doc: '{"a": [1, 2]}',
        name: 'ñandú',
        uid: '123e4567-e89b-12d3-a456-426614174000',
      },
      {
        id: '2',
        flag: false,
        small: null,
        tiny: null,
        amount: '-0.50',
        big: '0',
        ratio: null,
        at: null,
        local: null,
        day: null,
        span: '-01:30:00',
        yr: null,
        doc: null,
        name: null,
        uid: null,
      },
    ]);

    // Without the option TINYINT(1) stays a small integer.
    await sync(
      'types-maria-pg-tinyint',
      'url: ${MARIA}\nquery: SELECT id, flag FROM typed',
      'type: postgres\ntable: typed_maria_flag\nmode: replace',
    );
    expect(await pgTypes('typed_maria_flag')).toEqual({ id: 'bigint', flag: 'smallint' });
  });

  it('MariaDB → MariaDB: the source declarations, TIMESTAMP as DATETIME holding UTC', async () => {
    await sync(
      'types-maria-maria',
      'url: ${MARIA}\ntable: typed\nprimaryKey: [id]',
      'type: mysql\nurl: ${MARIA_TARGET}\ntable: typed_copy\nmode: merge\nkeys: [id]',
    );
    expect(await mariaTypes('typed_copy')).toEqual({
      id: 'int(10) unsigned',
      flag: 'tinyint(1)',
      small: 'smallint(6)',
      tiny: 'tinyint(4)',
      amount: 'decimal(12,2)',
      big: 'bigint(20) unsigned',
      ratio: 'double',
      at: 'datetime(3)',
      local: 'datetime(6)',
      day: 'date',
      span: 'time',
      yr: 'year(4)',
      doc: 'longtext', // MariaDB's JSON is LONGTEXT with a JSON_VALID check
      name: 'longtext',
      uid: 'uuid',
    });
    expect(
      await mariaTarget.query(
        `SELECT id, flag, amount, big, CAST(at AS CHAR) AS at, CAST(local AS CHAR) AS local, CAST(span AS CHAR) AS span,
                CAST(doc AS CHAR) AS doc, name, CAST(uid AS CHAR) AS uid FROM typed_copy ORDER BY id`,
      ),
    ).toEqual([
      {
        id: 1,
        flag: 1,
        amount: '1234567890.12',
        big: '18446744073709551615',
        at: '2026-11-01 10:00:00.125',
        local: '2026-11-01 10:00:00.000001',
        span: '838:59:59',
        doc: '{"a":[1,2]}',
        name: 'ñandú',
        uid: '123e4567-e89b-12d3-a456-426614174000',
      },
      {
        id: 2,
        flag: 0,
        amount: '-0.50',
        big: '0',
        at: null,
        local: null,
        span: '-01:30:00',
        doc: null,
        name: null,
        uid: null,
      },
    ]);
  });

  it('PostgreSQL → MariaDB: timestamptz as DATETIME in UTC, numeric(p,s) as DECIMAL(p,s), smallint, jsonb as JSON, arrays as text', async () => {
    await sync(
      'types-pg-maria',
      'url: ${PG_SOURCE}\nquery: SELECT id, at, amount, tags, doc, uid, span, day FROM typed\nprimaryKey: [id]',
      'type: mysql\nurl: ${MARIA_TARGET}\ntable: typed_from_pg\nmode: merge\nkeys: [id]',
    );
    expect(await mariaTypes('typed_from_pg')).toEqual({
      id: 'smallint(6)',
      at: 'datetime(6)',
      amount: 'decimal(12,2)',
      tags: 'longtext',
      doc: 'longtext',
      uid: 'char(36)',
      span: 'longtext',
      day: 'date',
    });
    expect(
      await mariaTarget.query(
        'SELECT id, CAST(at AS CHAR) AS at, amount, tags, CAST(doc AS CHAR) AS doc, uid, span, CAST(day AS CHAR) AS day FROM typed_from_pg ORDER BY id',
      ),
    ).toEqual([
      {
        id: 1,
        at: '2026-11-01 08:00:00.125000',
        amount: '1234567890.12',
        tags: '{a,"b c"}',
        doc: '{"k": [1, {"x": null}]}',
        uid: '123e4567-e89b-12d3-a456-426614174000',
        span: '1 day 02:00:00',
        day: '2026-11-01',
      },
      {
        id: 2,
        at: '2026-11-02 00:00:00.000000',
        amount: '-0.50',
        tags: '{}',
        doc: null,
        uid: null,
        span: '-00:30:00',
        day: null,
      },
    ]);
  });
});
