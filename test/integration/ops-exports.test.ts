import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipelineFile } from '../helpers/pipeline-harness.js';
import { startSftpServer, type SftpServer } from '../helpers/sshd.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';

// Exports: a `sql` query into a file, in a local folder (CSV, JSON lines, Parquet, XLSX) or uploaded to a
// real OpenSSH server. The file is never seen half-written under its name, and a rerun (also one after a
// crash that left files behind) never writes a second copy under another name.

let server: SftpServer;
let store: TestStore;
const ROWS = 60_000;
/** Rows of the local exports: reading XLSX back whole is slow. */
const SMALL = 3000;

beforeAll(async () => {
  [server, store] = await Promise.all([
    startSftpServer(),
    createTestStore({ prefix: 'sluice-ops-exports-' }),
  ]);
  await store.db
    .exec(`CREATE TABLE public.clients (id integer PRIMARY KEY, name text, amount numeric, day date);
    INSERT INTO public.clients
      SELECT i, 'client ' || i || CASE WHEN i % 1000 = 0 THEN ', "quoted"' ELSE '' END, i * 1.5, date '2026-01-01' + (i % 300)
        FROM generate_series(1, ${ROWS}) i;`);
});
afterAll(async () => {
  await store?.close();
  await server?.stop();
});

let cases = 0;
async function exportPipeline(load: string[], rows = ROWS) {
  const file = path.join(store.home, `export${++cases}.yaml`);
  await writeFile(
    file,
    [
      `name: client_export_${cases}`,
      'source:',
      '  type: sql',
      '  url: ${SOURCE_URL}',
      `  query: SELECT id, name, amount, day FROM public.clients WHERE id <= ${rows} ORDER BY id`,
      'load:',
      ...load.map((l) => `  ${l}`),
      '',
    ].join('\n'),
  );
  return (asOf: string) =>
    runPipelineFile(store.db, file, {
      env: { SOURCE_URL: store.url!, SFTP_PASSWORD: server.password },
      home: store.home,
      asOf,
    });
}

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('exports', () => {
  it('uploads to SFTP under a temporary name, never seen half-written, and a rerun does not upload again', async () => {
    const dir = path.join(server.root, 'outbox');
    await mkdir(dir);
    await chmod(dir, 0o777);
    const run = await exportPipeline([
      'type: sftp',
      `url: ${server.url(dir)}`,
      'password: ${SFTP_PASSWORD}',
      `hostKey: ${server.hostKeyFingerprint}`,
      'format: csv',
      'name: clients_{yyyyMMdd}.csv',
    ]);
    // Watch the folder while the upload runs: whenever the final name is there, its file is whole.
    const sizesSeen: number[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const names = await readdir(dir);
        if (names.includes('clients_20261127.csv'))
          sizesSeen.push(
            (await stat(path.join(dir, 'clients_20261127.csv')).catch(() => ({ size: -1 }))).size,
          );
        await new Promise((r) => setImmediate(r));
      }
    })();
    const first = await run('2026-11-27');
    watching = false;
    await watcher;
    expect(first.status).toBe('succeeded');
    expect(first.rowsLoaded).toBe(ROWS);
    expect(await readdir(dir)).toEqual(['clients_20261127.csv']);
    const final = path.join(dir, 'clients_20261127.csv');
    const { size } = await stat(final);
    expect(sizesSeen.every((s) => s === size)).toBe(true);
    const text = await readFile(final, 'utf8');
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,name,amount,day');
    expect(lines[1]).toBe('1,client 1,1.5,2026-01-02');
    expect(lines[1000]).toBe('1000,"client 1000, ""quoted""",1500.0,2026-04-11');
    expect(lines).toHaveLength(ROWS + 1);
    const digest = await sha256(final);

    // The same date again: the record says it was delivered; nothing is uploaded, under any name.
    const again = await run('2026-11-27');
    expect(again.status).toBe('succeeded');
    expect(again.outcomes?.join('\n')).toContain('is not written again');
    expect(await readdir(dir)).toEqual(['clients_20261127.csv']);
    expect(await sha256(final)).toBe(digest);
    const { rows } = await store.db.query<{ run_id: string; rows: string; sha256: string }>(
      `SELECT run_id, rows, sha256 FROM sluice.exports WHERE name = 'clients_20261127.csv' AND completed_at IS NOT NULL`,
    );
    expect(rows).toEqual([{ run_id: first.runId, rows: String(ROWS), sha256: digest }]);

    // A crash after the upload but before the commit left the file (and a temporary one) unrecorded: the
    // rerun replaces them, one file under the one name.
    // (written as the SFTP user would have: writable by it)
    for (const [name, text] of [
      ['clients_20261128.csv', 'id,name\n1,half of'],
      ['.clients_20261128.csv.part', 'id,na'],
    ] as const) {
      await writeFile(path.join(dir, name), text);
      await chmod(path.join(dir, name), 0o666);
    }
    const afterCrash = await run('2026-11-28');
    expect(afterCrash.error).toBeUndefined();
    expect(afterCrash.status).toBe('succeeded');
    expect((await readdir(dir)).sort()).toEqual(['clients_20261127.csv', 'clients_20261128.csv']);
    expect(await sha256(path.join(dir, 'clients_20261128.csv'))).toBe(digest);
  });

  it('refuses an SFTP server whose host key is not the pinned one', async () => {
    const run = await exportPipeline([
      'type: sftp',
      `url: ${server.url('/tmp')}`,
      'password: ${SFTP_PASSWORD}',
      'hostKey: SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'format: csv',
      'name: never.csv',
    ]);
    const summary = await run('2026-11-27');
    expect(summary.status).toBe('failed');
    expect(summary.error?.code).toBe('SOURCE_AUTH');
    expect(summary.error?.message).toContain('is not trusted');
    expect(summary.error?.message).toContain('pin its key with load.hostKey');
  });

  it('writes XLSX, JSON lines and Parquet files into a local folder', async () => {
    const out = path.join(store.home, 'exports');
    for (const format of ['xlsx', 'jsonl', 'parquet'])
      expect(
        (
          await (
            await exportPipeline(
              ['type: files', `dir: ${out}`, `format: ${format}`, `name: clients.${format}`],
              SMALL,
            )
          )('2026-11-27')
        ).status,
      ).toBe('succeeded');
    expect((await readdir(out)).sort()).toEqual(['clients.jsonl', 'clients.parquet', 'clients.xlsx']);

    const jsonl = (await readFile(path.join(out, 'clients.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(jsonl).toHaveLength(SMALL);
    expect(JSON.parse(jsonl[0]!)).toMatchObject({ id: 1, name: 'client 1', day: '2026-01-02' });

    const { parquetReadObjects } = await import('hyparquet');
    const { asyncBufferFromFile } = await import('hyparquet');
    const parquet = await parquetReadObjects({
      file: await asyncBufferFromFile(path.join(out, 'clients.parquet')),
    });
    expect(parquet).toHaveLength(SMALL);
    expect(String(parquet[SMALL - 1]!.name)).toBe(`client ${SMALL}, "quoted"`);

    const { default: ExcelJS } = await import('exceljs');
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(path.join(out, 'clients.xlsx'));
    const sheet = book.getWorksheet('Sheet1')!;
    expect(sheet.rowCount).toBe(SMALL + 1);
    expect(sheet.getRow(1).values).toEqual([undefined, 'id', 'name', 'amount', 'day']);
    expect(sheet.getRow(2).getCell(2).value).toBe('client 1');
  });
});
