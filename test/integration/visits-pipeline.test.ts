import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readEntries } from '../../src/runner/archive.js';
import type { Database } from '../../src/store/database.js';
import { runPipelineFile, VISITS_PIPELINE } from '../helpers/pipeline-harness.js';
import { createTestStore, type TestStore } from '../helpers/test-store.js';
import { visitLine, visitsFile } from '../helpers/visits-fixtures.js';

let store: TestStore;
let db: Database;
let home: string;
let inbox: string;
let backup: string;

beforeEach(async () => {
  store = await createTestStore();
  ({ db, home } = store);
  inbox = path.join(home, 'inbox');
  backup = path.join(home, 'backup');
  await mkdir(inbox, { recursive: true });
});

afterEach(async () => {
  await store?.close();
});

const run = (asOf = '2026-11-27', extra: { dryRun?: boolean } = {}) =>
  runPipelineFile(db, VISITS_PIPELINE, {
    env: { VISITS_SOURCE: inbox, VISITS_BACKUP_DIR: backup },
    home,
    asOf,
    ...extra,
  });

const rows = async <T extends object = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
  (await db.query<T>(sql, params)).rows;

describe('visits pipeline (seed 000) on PostgreSQL', () => {
  it('loads valid rows, rejects bad ones with every broken rule, and keeps the three tables', async () => {
    await writeFile(
      path.join(inbox, 'report_1.txt'),
      visitsFile([
        { email: 'ana@example.com', sent: '03/11/2026 10:00', opened: '03/11/2026 11:00', opens: '2' },
        { email: '  Luis.Perez@Example.COM ', sent: '04/11/2026 09:30' },
        { email: 'ana@example.com', sent: '15/10/2026 08:00', links: '"https://a.example/x,y"' },
        { email: 'bad-email', sent: '31/02/2026 10:00' }, // line 5: two rules broken
        { email: 'zoe@example.com', sent: '05/11/2026 24:00' }, // line 6: hour 24
        { email: 'max@example.com', sent: '-' }, // line 7: required
        { email: 'neg@example.com', sent: '05/11/2026 10:00', opens: '-1' }, // line 8
        'few@example.com,only,three', // line 9: wrong field count
      ]),
    );
    const summary = await run();
    expect(summary.status).toBe('succeeded');
    expect(summary).toMatchObject({ filesLoaded: 1, rowsRead: 8, rowsLoaded: 3, rowsRejected: 5 });

    expect(
      await rows(
        'SELECT email, total_visits, first_visit, last_visit, visits_current_year, visits_current_month FROM visitor ORDER BY email',
      ),
    ).toEqual([
      {
        email: 'ana@example.com',
        total_visits: 2,
        first_visit: '2026-10-15 08:00:00',
        last_visit: '2026-11-03 10:00:00',
        visits_current_year: 2,
        visits_current_month: 1,
      },
      {
        email: 'luis.perez@example.com',
        total_visits: 1,
        first_visit: '2026-11-04 09:30:00',
        last_visit: '2026-11-04 09:30:00',
        visits_current_year: 1,
        visits_current_month: 1,
      },
    ]);
    const stats = await rows<{
      email: string;
      links: string;
      opens: number;
      fecha_open: string | null;
      line_number: number;
    }>('SELECT email, links, opens, fecha_open, line_number FROM statistics ORDER BY line_number');
    expect(stats).toEqual([
      {
        email: 'ana@example.com',
        links: 'https://example.com/x',
        opens: 2,
        fecha_open: '2026-11-03 11:00:00',
        line_number: 2,
      },
      {
        email: 'luis.perez@example.com',
        links: 'https://example.com/x',
        opens: 1,
        fecha_open: null,
        line_number: 3,
      },
      {
        email: 'ana@example.com',
        links: 'https://a.example/x,y',
        opens: 1,
        fecha_open: null,
        line_number: 4,
      },
    ]);
    const errors = await rows<{ line_number: number; reasons: string }>(
      'SELECT line_number, reasons FROM errors ORDER BY line_number',
    );
    expect(errors.map((e) => e.line_number)).toEqual([5, 6, 7, 8, 9]);
    expect(errors[0]!.reasons).toMatch(/email: .*e-mail/);
    expect(errors[0]!.reasons).toMatch(/Fecha envio: .*date/);
    const rejects = await rows<{
      line: number;
      column_name: string | null;
      rule: string;
      value: string | null;
    }>('SELECT line, column_name, rule, value FROM sluice.rejects ORDER BY line, rule');
    expect(rejects).toEqual([
      { line: 5, column_name: 'Fecha envio', rule: 'datetime', value: '31/02/2026 10:00' },
      { line: 5, column_name: 'email', rule: 'email', value: 'bad-email' },
      { line: 6, column_name: 'Fecha envio', rule: 'datetime', value: '05/11/2026 24:00' },
      { line: 7, column_name: 'Fecha envio', rule: 'required', value: '-' },
      { line: 8, column_name: 'Opens', rule: 'integer', value: '-1' },
      { line: 9, column_name: null, rule: 'fieldCount', value: null },
    ]);
    // Loaded files leave the source only after their commit, into the dated zip.
    expect(await readdir(inbox)).toEqual([]);
    const zip = path.join(backup, 'visitas_20261127.zip');
    expect((await readEntries(zip)).map((e) => e.name)).toEqual(['report_1.txt']);
    const ledger = await rows(
      'SELECT name, status, rows_read, rows_loaded, rows_rejected, archived_to FROM sluice.files',
    );
    expect(ledger).toEqual([
      {
        name: 'report_1.txt',
        status: 'loaded',
        rows_read: '8',
        rows_loaded: '3',
        rows_rejected: '5',
        archived_to: zip,
      },
    ]);
  });

  it('accepts a changing second header, BOM, CRLF and LF', async () => {
    await writeFile(
      path.join(inbox, 'report_a.txt'),
      visitsFile([{ email: 'a@example.com', sent: '01/11/2026 10:00' }], { secondHeader: 'jk' }),
    );
    await writeFile(
      path.join(inbox, 'report_b.txt'),
      visitsFile([{ email: 'b@example.com', sent: '01/11/2026 10:00' }], {
        secondHeader: 'Jyv 2026',
        crlf: true,
      }),
    );
    await writeFile(
      path.join(inbox, 'report_c.txt'),
      visitsFile([{ email: 'c@example.com', sent: '01/11/2026 10:00' }], { bom: true, crlf: true }),
    );
    const summary = await run();
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 3, rowsLoaded: 3, rowsRejected: 0 });
    expect(
      (await rows<{ email: string }>('SELECT email FROM visitor ORDER BY email')).map((r) => r.email),
    ).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
  });

  it('rejects an empty file and an extra header column whole, and loads a header-only file', async () => {
    await writeFile(path.join(inbox, 'report_empty.txt'), '');
    await writeFile(path.join(inbox, 'report_header.txt'), visitsFile([]));
    const extra = visitsFile([{ email: 'x@example.com', sent: '01/11/2026 10:00' }])
      .replace('Plataformas', 'Plataformas,Extra')
      .replace(/Linux\n$/, 'Linux,1\n');
    await writeFile(path.join(inbox, 'report_extra.txt'), extra);
    await writeFile(
      path.join(inbox, 'report_ok.txt'),
      visitsFile([{ email: 'ok@example.com', sent: '01/11/2026 10:00' }]),
    );
    const summary = await run();
    expect(summary).toMatchObject({ status: 'succeeded', filesLoaded: 2, filesRejected: 2, rowsLoaded: 1 });
    const byName = Object.fromEntries(summary.files.map((f) => [f.name, f]));
    expect(byName['report_empty.txt']!.reason).toMatch(/empty/);
    expect(byName['report_extra.txt']!.reason).toMatch(/16|Extra/);
    expect(byName['report_header.txt']).toMatchObject({ status: 'loaded', rowsLoaded: 0 });
    expect(await rows('SELECT email FROM visitor')).toEqual([{ email: 'ok@example.com' }]);
    // Rejected files move to rejected/ at the source; nothing of them is loaded.
    expect((await readdir(path.join(inbox, 'rejected'))).sort()).toEqual([
      'report_empty.txt',
      'report_extra.txt',
    ]);
    expect(await rows(`SELECT name, status FROM sluice.files ORDER BY name`)).toEqual([
      { name: 'report_empty.txt', status: 'rejected' },
      { name: 'report_extra.txt', status: 'rejected' },
      { name: 'report_header.txt', status: 'loaded' },
      { name: 'report_ok.txt', status: 'loaded' },
    ]);
    const layout = await rows<{ file_name: string; line_number: number }>(
      `SELECT file_name, line_number FROM errors ORDER BY file_name`,
    );
    expect(layout).toEqual([
      { file_name: 'report_empty.txt', line_number: 1 },
      { file_name: 'report_extra.txt', line_number: 1 },
    ]);
  });

  it('skips identical content sent again under a new name, and a second run the same day keeps the archive', async () => {
    const content = visitsFile([{ email: 'a@example.com', sent: '01/11/2026 10:00' }]);
    await writeFile(path.join(inbox, 'report_1.txt'), content);
    expect(await run()).toMatchObject({ filesLoaded: 1 });
    await writeFile(path.join(inbox, 'report_1_resent.txt'), content);
    await writeFile(
      path.join(inbox, 'report_2.txt'),
      visitsFile([{ email: 'b@example.com', sent: '02/11/2026 10:00' }]),
    );
    const second = await run();
    expect(second).toMatchObject({ filesLoaded: 1, filesSkipped: 1 });
    expect(second.files.find((f) => f.name === 'report_1_resent.txt')).toMatchObject({ status: 'skipped' });
    expect(await rows('SELECT email, total_visits FROM visitor ORDER BY email')).toEqual([
      { email: 'a@example.com', total_visits: 1 },
      { email: 'b@example.com', total_visits: 1 },
    ]);
    // statistics holds only the latest run's rows
    expect(await rows('SELECT email FROM statistics')).toEqual([{ email: 'b@example.com' }]);
    expect((await readEntries(path.join(backup, 'visitas_20261127.zip'))).map((e) => e.name)).toEqual([
      'report_1.txt',
      'report_2.txt',
    ]);
    expect(await readdir(inbox)).toEqual([]);
  });

  it('moves the current-month counts on a run a month later', async () => {
    await writeFile(
      path.join(inbox, 'report_1.txt'),
      visitsFile([
        { email: 'a@example.com', sent: '10/11/2026 10:00' },
        { email: 'a@example.com', sent: '11/11/2026 10:00' },
      ]),
    );
    await run('2026-11-27');
    expect(await rows('SELECT visits_current_month, visits_current_year FROM visitor')).toEqual([
      { visits_current_month: 2, visits_current_year: 2 },
    ]);
    await writeFile(
      path.join(inbox, 'report_2.txt'),
      visitsFile([{ email: 'a@example.com', sent: '02/12/2026 10:00' }]),
    );
    const later = await run('2026-12-27');
    expect(later.status).toBe('succeeded');
    expect(await rows('SELECT total_visits, visits_current_month, visits_current_year FROM visitor')).toEqual(
      [{ total_visits: 3, visits_current_month: 1, visits_current_year: 3 }],
    );
    // A run in the new year with no new files still moves every visitor to its date.
    await run('2027-01-05');
    expect(await rows('SELECT total_visits, visits_current_month, visits_current_year FROM visitor')).toEqual(
      [{ total_visits: 3, visits_current_month: 0, visits_current_year: 0 }],
    );
    expect(await rows('SELECT count(*)::int AS n FROM statistics')).toEqual([{ n: 0 }]);
  });

  it('changes nothing in a dry run', async () => {
    await writeFile(
      path.join(inbox, 'report_1.txt'),
      visitsFile([{ email: 'a@example.com', sent: '01/11/2026 10:00' }, 'bad,row']),
    );
    const summary = await run('2026-11-27', { dryRun: true });
    expect(summary).toMatchObject({ status: 'succeeded', dryRun: true, rowsLoaded: 1, rowsRejected: 1 });
    expect(await rows(`SELECT to_regclass('visitor') AS t`)).toEqual([{ t: null }]);
    expect(await rows('SELECT count(*)::int AS n FROM sluice.runs')).toEqual([{ n: 0 }]);
    expect(await readdir(inbox)).toEqual(['report_1.txt']);
  });

  it('keeps quoted commas inside one field', async () => {
    await writeFile(
      path.join(inbox, 'report_q.txt'),
      visitsFile([visitLine({ email: 'q@example.com', sent: '01/11/2026 10:00', links: '"a,b,c"' })]),
    );
    await run();
    expect(await rows('SELECT links FROM statistics')).toEqual([{ links: 'a,b,c' }]);
  });
});
