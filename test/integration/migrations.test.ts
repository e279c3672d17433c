import { copyFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/store/database.js';
import { migrate, MIGRATIONS_DIR } from '../../src/store/migrate.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

// A database made by an earlier Sluice keeps working after an upgrade: the migrations rewrite what they
// rename.

let server: TestDatabase;
let db: Database;
beforeAll(async () => {
  server = await createTestDatabase();
  db = await openPostgres(server.url);
});
afterAll(async () => {
  await db?.close();
  await server?.drop();
});

/** A folder with the landed migrations up to (and without) `before`. */
async function migrationsBefore(before: string): Promise<string> {
  const dir = await tempDir('sluice-migrations-');
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(MIGRATIONS_DIR))
    if (/^\d+_.+\.sql$/.test(name) && name < before)
      await copyFile(path.join(MIGRATIONS_DIR, name), path.join(dir, name));
  return dir;
}

describe('migrations', () => {
  it('011 rewrites saved mail accounts, reports and reject rules to the one vocabulary', async () => {
    await migrate(db, await migrationsBefore('011'));
    await db.query(`INSERT INTO sluice.mail_accounts (name, definition) VALUES
      ('old', '{"name": "old", "url": "imap://mail.example", "tls": false, "starttls": true, "timeoutMs": 30000, "auth": {"user": "etl", "password": "\${P}"}}'),
      ('plain', '{"name": "plain", "url": "imaps://mail.example", "tls": false}')`);
    await db.query(`INSERT INTO sluice.reports (name, definition) VALUES
      ('daily', '{"name": "daily", "smtp": {"host": "smtp", "user": "me", "password": "x"}}')`);
    await db.query(
      `INSERT INTO sluice.runs (id, pipeline, status, as_of) VALUES ('00000000-0000-4000-8000-000000000011', 'p', 'succeeded', current_date)`,
    );
    await db.query(`INSERT INTO sluice.rejects (run_id, pipeline, file, rule, message) VALUES
      ('00000000-0000-4000-8000-000000000011', 'p', 'f.csv', 'field_count', 'm'),
      ('00000000-0000-4000-8000-000000000011', 'p', 'f.csv', 'email', 'm')`);

    await migrate(db);
    const accounts = await db.query<{ name: string; definition: unknown }>(
      'SELECT name, definition FROM sluice.mail_accounts ORDER BY name',
    );
    expect(accounts.rows).toEqual([
      {
        name: 'old',
        definition: {
          name: 'old',
          url: 'imap://mail.example',
          security: 'starttls',
          timeout: '30000ms',
          auth: { username: 'etl', password: '${P}' },
        },
      },
      { name: 'plain', definition: { name: 'plain', url: 'imaps://mail.example' } },
    ]);
    const reports = await db.query('SELECT definition FROM sluice.reports');
    expect(reports.rows).toEqual([
      { definition: { name: 'daily', smtp: { host: 'smtp', username: 'me', password: 'x' } } },
    ]);
    const rules = await db.query('SELECT rule FROM sluice.rejects ORDER BY id');
    expect(rules.rows).toEqual([{ rule: 'fieldCount' }, { rule: 'email' }]);
  });
});
