import { once } from 'node:events';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyErrorPosition, sqlState } from '../../src/core/database-errors.js';
import { isSluiceError, SluiceError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { lockFolder } from '../../src/store/pglite-lock.js';
import { shareSocketPath } from '../../src/store/share-protocol.js';
import { tempDir } from '../helpers/pipeline-harness.js';

// The embedded database held by a service and used by other commands through it (share-server.ts). Both
// ends run in this process here, on real PGlite and a real Unix socket; the bin test runs `sluice serve`.
describe('the embedded database shared by the service that holds it', () => {
  let home: string;
  let holder: Database;
  let client: Database;

  beforeEach(async () => {
    home = await tempDir('sluice-share-');
    holder = await openStore({ home, share: true, own: true });
    await holder.exec('CREATE TABLE t (id int PRIMARY KEY, name text)');
    client = await openStore({ home });
  });

  afterEach(async () => {
    await client.close();
    await holder.close();
  });

  it('answers queries through the holder, with the values PGlite gives', async () => {
    expect(client.kind).toBe('pglite');
    expect(client.location).toMatch(/embedded PostgreSQL \(PGlite\) in .*, through process \d+ \(sluice.*\)/);
    const { rows } = await client.query(
      `SELECT 1::int AS i, 9007199254740993::int8 AS big, 'NaN'::float8 AS nan, '\\x00ff'::bytea AS b,
              '{"a":[1]}'::jsonb AS j, DATE '2026-11-30' AS d, true AS yes, NULL::text AS nothing, $1::text AS p`,
      ['a\nb'],
    );
    expect(rows[0]).toEqual({
      i: 1,
      big: '9007199254740993',
      nan: NaN,
      b: new Uint8Array([0, 255]),
      j: { a: [1] },
      d: '2026-11-30',
      yes: true,
      nothing: null,
      p: 'a\nb',
    });
    await client.query('INSERT INTO t VALUES ($1, $2)', [1, 'one']);
    expect((await holder.query('SELECT name FROM t')).rows).toEqual([{ name: 'one' }]);
  });

  it('commits a transaction, rolls one back when its work throws, and keeps the SQLSTATE of errors', async () => {
    await client.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (1, $1)', ['kept']);
    });
    const thrown = await client
      .transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (2, $1)', ['dropped']);
        await tx.query('INSERT INTO t VALUES (1, $1)', ['duplicate']);
      })
      .catch((error: unknown) => error);
    expect(isSluiceError(thrown, 'DATABASE_ERROR')).toBe(true);
    expect(sqlState(thrown)).toBe('23505');
    expect((thrown as Error).message).toMatch(/duplicate key value/);
    expect((await holder.query('SELECT id, name FROM t ORDER BY id')).rows).toEqual([
      { id: 1, name: 'kept' },
    ]);
  });

  it("holds the holder's own statements back while its transaction is open", async () => {
    let holderSaw: unknown;
    await client.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (1, $1)', ['inside']);
      // Issued now, answered after the commit: the holder's turn comes after the client's transaction.
      holderSaw = holder.query('SELECT count(*)::int AS n FROM t');
      await tx.query('INSERT INTO t VALUES (2, $1)', ['inside too']);
    });
    expect((await (holderSaw as Promise<{ rows: unknown[] }>)).rows).toEqual([{ n: 2 }]);
  });

  it('streams a COPY through the holder, inside and outside a transaction', async () => {
    const lines = async function* (from: number, count: number) {
      for (let i = from; i < from + count; i++)
        yield i % 2 ? `${i}\trow ${i}\n` : Buffer.from(`${i}\trow ${i}\n`);
    };
    expect(await client.copyFrom({ name: 't' }, ['id', 'name'], lines(1, 500))).toBe(500);
    const inTx = await client.transaction((tx) =>
      tx.copyFrom({ name: 't' }, ['id', 'name'], lines(501, 500)),
    );
    expect(inTx).toBe(500);
    expect((await holder.query('SELECT count(*)::int AS n, max(name) AS last FROM t')).rows).toEqual([
      { n: 1000, last: 'row 999' },
    ]);
  });

  it('reports where a COPY failed, and fails the COPY when its input throws', async () => {
    const bad = await client
      .copyFrom(
        { name: 't' },
        ['id', 'name'],
        (async function* () {
          yield '1\tone\n2\ttwo\nthree\t3\n';
        })(),
      )
      .catch((error: unknown) => error);
    expect(isSluiceError(bad, 'DATABASE_ERROR')).toBe(true);
    expect(copyErrorPosition((bad as SluiceError & { cause: { where?: string } }).cause.where)).toEqual({
      row: 3,
      column: 'id',
    });
    const broken = new Error('the source broke');
    const failed = await client
      .copyFrom(
        { name: 't' },
        ['id', 'name'],
        (async function* () {
          yield '10\tten\n';
          throw broken;
        })(),
      )
      .catch((error: unknown) => error);
    expect(failed).toBe(broken);
    expect((await client.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
  });

  it('shares the pipeline locks with the holder and lets a departed client go of its own', async () => {
    const mine = await holder.tryLock('pipeline:a');
    expect(mine).not.toBeNull();
    expect(await client.tryLock('pipeline:a')).toBeNull();
    await mine!.release();
    const theirs = await client.tryLock('pipeline:a');
    expect(theirs).not.toBeNull();
    expect(await holder.tryLock('pipeline:a')).toBeNull();
    await client.close(); // without releasing: its locks go with it
    let again = await holder.tryLock('pipeline:a');
    for (let i = 0; !again && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10)); // the holder sees the socket close
      again = await holder.tryLock('pipeline:a');
    }
    expect(again).not.toBeNull();
    await again!.release();
    client = await openStore({ home });
  });

  it("copies the holder's data folder for a backup", async () => {
    await client.query('INSERT INTO t VALUES (1, $1)', ['backed up']);
    const copy = await client.dumpDataDir!();
    const bytes = new Uint8Array(await copy.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(1000);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]); // gzip
  });

  it('says so when the holder goes away, and never shares from a command that is not the service', async () => {
    await holder.close();
    const lost = await client.query('SELECT 1').catch((error: unknown) => error);
    expect(isSluiceError(lost, 'DATABASE_UNREACHABLE')).toBe(true);
    expect((lost as Error).message).toMatch(/process \d+ \(sluice.*\) that holds it closed it/);
    await client.close();

    holder = await openStore({ home }); // a command, not the service
    const refused = await openStore({ home }).catch((error: unknown) => error);
    expect(isSluiceError(refused, 'DATABASE_LOCKED')).toBe(true);
    expect((refused as Error).message).toMatch(/is in use by process \d+ \(sluice.*\)/);
    client = await openStore({ home: await tempDir('sluice-share-other-') });
  });

  it('refuses to work through a holder that speaks another version of the protocol', async () => {
    const other = await tempDir('sluice-share-version-');
    const lock = await lockFolder(other);
    const hello = { hello: { pid: process.pid, command: 'sluice serve', location: 'x', protocol: 999 } };
    const server = net.createServer((socket) => socket.end(`${JSON.stringify(hello)}\n`));
    server.listen(shareSocketPath(other));
    await once(server, 'listening');
    try {
      const refused = await openStore({ home: other }).catch((error: unknown) => error);
      expect(isSluiceError(refused, 'DATABASE_LOCKED')).toBe(true);
      expect((refused as Error).message).toMatch(/\(sluice serve\) of another Sluice version/);
    } finally {
      server.close();
      await lock.release();
    }
  });

  it('never lets a second service work through the first', async () => {
    const second = await openStore({ home, share: true, own: true }).catch((error: unknown) => error);
    expect(isSluiceError(second, 'DATABASE_LOCKED')).toBe(true);
  });
});
