import { cp, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readReportsFile, saveReports, sendReport } from '../../src/notify/reports.js';
import { openStore } from '../../src/store/connect.js';
import type { Database } from '../../src/store/database.js';
import { withLock } from '../helpers/debian-packages.js';
import { REPO, runPipelineFile, tempDir, VISITS_PIPELINE } from '../helpers/pipeline-harness.js';
import { freshRepoCopy, git } from '../helpers/repo-copy.js';
import { runBlocks, runnableBlocks } from '../helpers/runnable-docs.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

// Every example runs here as shipped, on its own sample data.
describe('examples', () => {
  let testDb: TestDatabase;
  let db: Database;
  let home: string;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    home = await tempDir();
    db = await openStore({ databaseUrl: testDb.url, home });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it('visits loads its sample reports, and the reports example mails over its tables', async () => {
    const inbox = path.join(home, 'inbox');
    await cp(path.join(REPO, 'examples/visits/data'), inbox, { recursive: true });
    const summary = await runPipelineFile(db, VISITS_PIPELINE, {
      env: { VISITS_SOURCE: inbox, VISITS_BACKUP_DIR: path.join(home, 'backup') },
      home,
      asOf: '2026-11-27',
    });
    expect(summary).toMatchObject({
      status: 'succeeded',
      filesLoaded: 3,
      filesRejected: 1,
      rowsLoaded: 23,
      rowsRejected: 6,
    });

    const env = { REPORT_TO: 'ops@example.com', REPORT_FROM: 'sluice@example.com', SMTP_HOST: '127.0.0.1' };
    await saveReports(db, await readReportsFile(path.join(REPO, 'examples/reports/reports.yaml'), env));
    const out = path.join(home, 'out');
    const result = await sendReport(db, 'visits-daily', { logger: quiet, env, dryRun: true, outDir: out });
    expect(result.status).toBe('dry_run');
    const mail = await simpleParser(await readFile(result.emlPath!));
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM visitor');
    expect(mail.subject).toBe(`Visits: ${rows[0]!.n} visitors`);
    expect(mail.html).toContain('ana.garcia@example.com');
    expect(mail.html).toContain('not a valid e-mail address');
    expect(mail.attachments.map((a) => a.filename)).toEqual([
      expect.stringMatching(/^visitors_\d{8}_\d{6}\.csv$/),
    ]);
  });
});

/**
 * Every example's README, its runnable shell blocks run as written (see test/helpers/runnable-docs.ts) in
 * one fresh copy of the repository, one example after the other (reports mails over the tables visits
 * made): each must succeed, and `git status` must stay clean, on the embedded database and on a server.
 */
const EXAMPLES: { name: string; shows: RegExp[] }[] = [
  {
    name: 'visits',
    shows: [/Run [0-9a-f-]{36} of visits succeeded/, /files: 3 loaded, 0 skipped, 1 rejected/, /\(5 rows\)/],
  },
  { name: 'reports', shows: [/\.eml/] },
  { name: 'imports', shows: [/5 files: .*4 loaded/, /ID\s+STATUS\s+LABEL/, /\(\d+ rows?\)/] },
  { name: 'scan', shows: [/Run [0-9a-f-]{36} of scan_attendees succeeded/, /\(6 rows\)/] },
  { name: 'sync', shows: [/5 of 5 pipelines succeeded/, /pulso\.dashboard_data {2}\S+ = /] },
  {
    name: 'lake',
    shows: [
      /published version \d{8}T\d{9}Z of bcra_series: 59 rows/,
      /30 new observations, 66 observations already loaded/,
      /published version \d{8}T\d{9}Z of bcra_series: 86 rows/,
      /no new rows for bcra_series: no version made/,
      /\*\s+\d{8}T\d{9}Z\s+published\s+delta\s+86/,
    ],
  },
];

/** The sync example's source database has a fixed name: one test at a time uses it on the shared server. */
const SYNC_SOURCE = 'pulso_source';

describe.each(['embedded', 'postgres'] as const)('the examples as their READMEs say (%s)', (kind) => {
  let testDb: TestDatabase | undefined;
  let copy: string;
  let home: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const admin = new URL(inject('pgAdminUrl'));
    if (kind === 'postgres') testDb = await createTestDatabase();
    copy = await freshRepoCopy();
    home = await tempDir('sluice-home-');
    env = {
      ...(testDb ? { DATABASE_URL: testDb.url } : {}),
      PGHOST: admin.hostname,
      PGPORT: admin.port || '5432',
      PGUSER: decodeURIComponent(admin.username) || 'postgres',
      SCAN_SITE: `http://127.0.0.1:${await portBelowEphemeral()}`,
    };
    // Installed as README.md says: a link to the built command in ~/.local/bin.
    await mkdir(path.join(home, '.local', 'bin'), { recursive: true });
    await symlink(path.join(copy, 'dist', 'cli', 'main.js'), path.join(home, '.local', 'bin', 'sluice'));
  });

  afterAll(async () => {
    // The scan's site, should its README not have stopped it.
    const pid = await readFile(path.join(copy, '.sluice', 'scan', 'site.pid'), 'utf8').catch(() => '');
    if (/^\d+\s*$/.test(pid)) {
      try {
        process.kill(Number(pid));
      } catch {
        // already stopped
      }
    }
    await rm(copy, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
    await testDb?.drop();
  });

  for (const example of EXAMPLES) {
    it(example.name, { timeout: 700_000 }, async () => {
      const file = `examples/${example.name}/README.md`;
      const blocks = runnableBlocks(await readFile(path.join(copy, file), 'utf8'), file);
      expect(blocks.length, `${file} has no runnable block`).toBeGreaterThan(0);
      const run = () => runBlocks(blocks, { cwd: copy, home, env });
      const result =
        example.name === 'sync'
          ? await withLock('sluice-test-pulso-source', () => withSyncSource(run))
          : await run();
      expect(result.code, `${file}:\n${result.output}`).toBe(0);
      for (const shown of example.shows) expect(result.output, file).toMatch(shown);
      expect(result.output, file).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
    });
  }

  it('leaves the repository as it was: git status is clean', async () => {
    expect(await git(copy, 'status', '--porcelain')).toBe('');
  });
});

/** Runs `work` with no pulso_source database before it, and drops the one it made after it. */
async function withSyncSource<T>(work: () => Promise<T>): Promise<T> {
  const drop = async () => {
    const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${SYNC_SOURCE} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };
  await drop();
  try {
    return await work();
  } finally {
    await drop();
  }
}

/**
 * A free port below the ephemeral range: the scan site binds it only after the README's first steps, and a
 * port from the ephemeral range may meanwhile become the local end of some connection on this busy machine.
 */
async function portBelowEphemeral(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768');
  const first = Number(range.trim().split(/\s+/)[0]) || 32768;
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * Math.max(1, first - 20000));
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
