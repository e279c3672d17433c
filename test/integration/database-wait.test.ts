import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, openPostgres } from '../../src/store/database.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

// A statement that cannot get a connection fails within a bounded time, saying why, instead of hanging.

let server: TestDatabase;
beforeAll(async () => {
  server = await createTestDatabase();
});
afterAll(async () => {
  await server?.drop();
});

describe('waiting for a database connection', () => {
  it('on a server: a full pool makes the next statement fail with DATABASE_BUSY after the wait', async () => {
    const db = await openPostgres(server.url, { poolSize: 1, waitMs: 300 });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const holder = db.transaction(() => held);
      await expect(db.query('SELECT 1')).rejects.toMatchObject({
        code: 'DATABASE_BUSY',
        message: expect.stringMatching(/no connection to .* came free within 300ms \(1 in use\)/),
      });
      release();
      await holder;
      expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('embedded: a statement issued from inside a transaction, waiting for it, fails instead of hanging', async () => {
    const db = await openPglite(path.join(await tempDir('sluice-wait-'), 'pgdata'), { waitMs: 300 });
    try {
      const outcome = await db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        // Outside the transaction: it would wait for the transaction, which waits for it.
        return db.query('SELECT 1').then(
          () => 'ran',
          (error: { code?: string; message: string }) => `${error.code}: ${error.message}`,
        );
      });
      expect(outcome).toMatch(
        /^DATABASE_BUSY: no connection to embedded PostgreSQL .* came free within 300ms/,
      );
      expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
      // Opened with Sluice's start parameters: a 32 MB buffer pool, not PostgreSQL's 128 MB.
      expect((await db.query('SHOW shared_buffers')).rows).toEqual([{ shared_buffers: '32MB' }]);
    } finally {
      await db.close();
    }
  });
});
