import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// A problem tied to one file rejects that file, with its reason in the ledger, and the run goes on.

let store: TestStore;
let db: Database;

beforeAll(async () => {
  store = await createTestStore({ prefix: 'sluice-file-rejects-' });
  db = store.db;
});

afterAll(async () => {
  await store?.close();
});

async function runFolder(name: string, files: Record<string, string>, load: string[], check: string[]) {
  const dir = await tempDir(`sluice-${name}-`);
  const inbox = path.join(dir, 'inbox');
  await mkdir(inbox, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(inbox, file), text);
  const pipeline = path.join(dir, 'pipeline.yaml');
  await writeFile(
    pipeline,
    [
      `name: ${name}`,
      'source:',
      `  url: ${inbox}`,
      '  glob: "*.csv"',
      '  onLoad: delete',
      '  onReject: move',
      '  rejectedDir: rejected',
      'parse:',
      '  type: csv',
      ...(check.length ? ['check:', '  columns:', ...check.map((c) => `    ${c}`)] : []),
      'load:',
      '  type: postgres',
      ...load.map((l) => `  ${l}`),
    ].join('\n') + '\n',
  );
  const result = await runCli(['run', pipeline], store.env);
  const ledger = await db.query<{ name: string; status: string; reason: string | null }>(
    `SELECT name, status, reason FROM sluice.files WHERE pipeline = $1 ORDER BY name`,
    [name],
  );
  return { result, ledger: ledger.rows, inbox };
}

describe('a file-level problem rejects the file, never the run', () => {
  it('a file without a column the checks name is rejected; the others load; exit 0', async () => {
    const { result, ledger, inbox } = await runFolder(
      'nocolumn',
      {
        'a.csv': 'id,email\n1,a@example.com\n',
        'b.csv': 'id,mail\n2,b@example.com\n',
        'c.csv': 'id,email\n3,c@example.com\n',
      },
      ['table: nocolumn'],
      ['email: { email: true }'],
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toMatch(/files: 2 loaded, 0 skipped, 1 rejected/);
    expect(result.stdout).toMatch(
      /rejected b\.csv: no column "email", which check\.columns names; the columns are: id, mail/,
    );
    expect(ledger).toEqual([
      { name: 'a.csv', status: 'loaded', reason: null },
      { name: 'b.csv', status: 'rejected', reason: expect.stringMatching(/no column "email"/) },
      { name: 'c.csv', status: 'loaded', reason: null },
    ]);
    expect(await readdir(path.join(inbox, 'rejected'))).toEqual(['b.csv']);
    expect((await db.query('SELECT id FROM nocolumn ORDER BY id')).rows).toEqual([{ id: '1' }, { id: '3' }]);
  });

  it('a file whose values the target table refuses is rejected whole, with the database reason', async () => {
    await db.query('CREATE TABLE narrow (id integer, label varchar(5))');
    const { result, ledger } = await runFolder(
      'narrow',
      {
        'ok.csv': 'id,label\n1,short\n',
        'wide.csv': 'id,label\n2,far too long for five\n3,ok\n',
      },
      ['table: narrow', 'createTable: false'],
      [],
    );
    expect(result.code, result.stderr).toBe(0);
    expect(ledger).toEqual([
      { name: 'ok.csv', status: 'loaded', reason: null },
      {
        name: 'wide.csv',
        status: 'rejected',
        reason: expect.stringMatching(/too long for type character varying\(5\)/),
      },
    ]);
    expect((await db.query('SELECT id FROM narrow')).rows).toEqual([{ id: 1 }]);
    const runs = await db.query<{ files_loaded: number; files_rejected: number }>(
      `SELECT files_loaded, files_rejected FROM sluice.runs WHERE pipeline = 'narrow'`,
    );
    expect(runs.rows).toEqual([{ files_loaded: 1, files_rejected: 1 }]);
  });
});
