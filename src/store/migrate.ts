import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.js';

/** `migrations/` beside `src/` and `dist/`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Applies the numbered SQL files not applied yet, in order, each in its own transaction. Concurrent
 * starts serialize on an advisory lock, so each file runs once.
 */
export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  if (await allApplied(db, files)) return [];
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', ['sluice:migrate']);
    await tx.query('CREATE SCHEMA IF NOT EXISTS sluice');
    await tx.query(
      'CREATE TABLE IF NOT EXISTS sluice.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
  });
  for (const file of files) {
    const version = Number.parseInt(file, 10);
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', ['sluice:migrate']);
      const done = await tx.query('SELECT 1 FROM sluice.migrations WHERE version = $1', [version]);
      if (done.rowCount > 0) return;
      const sql = await readFile(path.join(dir, file), 'utf8');
      await tx.exec(sql);
      await tx.query('INSERT INTO sluice.migrations (version, name) VALUES ($1, $2)', [version, file]);
      applied.push(file);
    });
  }
  return applied;
}

/**
 * Whether every file is recorded as applied: two reads instead of a locked transaction per file, for the
 * common case (every command opens the store; `sluice runs` should start fast).
 */
async function allApplied(db: Database, files: string[]): Promise<boolean> {
  const { rows: table } = await db.query<{ present: boolean }>(
    `SELECT to_regclass('sluice.migrations') IS NOT NULL AS present`,
  );
  if (!table[0]?.present) return false;
  const versions = files.map((f) => Number.parseInt(f, 10));
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM sluice.migrations WHERE version = ANY($1::int[])',
    [versions],
  );
  return rows[0]?.n === versions.length;
}
