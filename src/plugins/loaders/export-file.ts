import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import {
  createFormatWriter,
  createXlsxWriter,
  type WrittenFile,
} from '../../connectors/file-formats/index.js';
import { SluiceError } from '../../core/errors.js';
import type { LoadSession, PluginContext, RunInfo } from '../../core/plugin.js';
import type { Column, RecordBatch, Row } from '../../core/records.js';
import type { SqlClient } from '../../core/sql.js';

// What the export loaders (files, sftp) share: the file's format and name, a spool written as rows come,
// and the record in `sluice.exports` that makes a rerun find the file it already delivered. Not a plugin.

export const EXPORT_FORMATS = ['csv', 'jsonl', 'parquet', 'xlsx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The options every export loader has. */
export const exportFileFields = {
  format: z.enum(EXPORT_FORMATS).describe('The file format: csv, jsonl (JSON lines), parquet or xlsx.'),
  name: z
    .string()
    .min(1)
    .regex(/^[^/\\\0]+$/, 'a file name, without folders')
    .refine(
      (n) => !n.startsWith('.'),
      'a name that does not start with "." (those are the files being written)',
    )
    .describe(
      'The file name; {yyyyMMdd}, {yyyy-MM-dd}, {yyyy}, {MM}, {dd} come from the run’s as-of date and {runId} from the run. ' +
        'One file per name: a rerun for the same date finds it delivered and does not write it again (add {runId} for a file per run).',
    ),
  delimiter: z.string().length(1).default(',').describe('CSV: the field separator.'),
  header: z.boolean().default(true).describe('CSV: write the column names as the first line.'),
  sheet: z.string().min(1).max(31).default('Sheet1').describe('XLSX: the worksheet’s name.'),
};

export interface ExportFileOptions {
  format: ExportFormat;
  name: string;
  delimiter: string;
  header: boolean;
  sheet: string;
}

/** `clients_{yyyyMMdd}.csv` → `clients_20261130.csv` for a run as of 2026-11-30. */
export function exportName(pattern: string, run: RunInfo): string {
  const [yyyy, MM, dd] = run.asOf.split('-') as [string, string, string];
  return pattern
    .replaceAll('{yyyyMMdd}', `${yyyy}${MM}${dd}`)
    .replaceAll('{yyyy-MM-dd}', run.asOf)
    .replaceAll('{yyyy}', yyyy)
    .replaceAll('{MM}', MM)
    .replaceAll('{dd}', dd)
    .replaceAll('{runId}', run.runId);
}

/** The name a file has while it is being written: hidden, and the same for every attempt (never piling up). */
export function partialName(name: string): string {
  return `.${name}.part`;
}

/** Where an export goes: puts a finished local file in place under its name, never visible half-written. */
export interface ExportTarget {
  /** Said to people and recorded (no password): a folder, or `sftp://user@host:port/folder`. */
  destination: string;
  deliver(localFile: string, name: string): Promise<void>;
}

interface Writer {
  write(columns: readonly Column[], rows: readonly Row[]): Promise<void>;
  end(): Promise<WrittenFile>;
}

async function openWriter(file: string, options: ExportFileOptions): Promise<Writer> {
  const stream = createWriteStream(file, { mode: 0o660 });
  if (options.format === 'xlsx') return createXlsxWriter(stream, { sheet: options.sheet });
  return createFormatWriter(options.format, stream, {
    csv: { delimiter: options.delimiter, header: options.header },
  });
}

/**
 * The load session of an export: rows are written to a spool file in the run's work folder as units load;
 * at the end of the run, inside its last transaction, the file is delivered (under a temporary name, then
 * renamed) and recorded in `sluice.exports`, which commits with the run. A rerun of the same name finds
 * the record and writes nothing; a crash before the commit leaves at most the file under its final name,
 * which the rerun replaces: never a second copy under another name.
 */
export function createExportSession(
  options: ExportFileOptions,
  context: PluginContext,
  target: ExportTarget,
): LoadSession {
  const spool = path.join(context.workDir, `export-${randomUUID()}.${options.format}`);
  let writer: Writer | undefined;
  let name = '';
  let delivered: { runId: string } | undefined;
  let broken = false;
  const writerNow = async () => (writer ??= await openWriter(spool, options));

  return {
    target: `${target.destination}/${options.name}`,
    async startRun(tx: SqlClient, run: RunInfo) {
      name = exportName(options.name, run);
      const { rows } = await tx.query<{ run_id: string }>(
        `SELECT e.run_id FROM sluice.exports e
          WHERE e.pipeline = (SELECT pipeline FROM sluice.runs WHERE id = $1)
            AND e.destination = $2 AND e.name = $3 AND e.completed_at IS NOT NULL`,
        [run.runId, target.destination, name],
      );
      if (rows[0]) {
        delivered = { runId: rows[0].run_id };
        context.logger.info(
          `${name} was delivered to ${target.destination} by run ${rows[0].run_id}: it is not written again`,
          { outcome: true },
        );
      }
    },
    async load(_tx: SqlClient, batches: AsyncIterable<RecordBatch>) {
      if (broken)
        throw new SluiceError(
          'LOAD_FAILED',
          'an export file is written in one go, and an earlier attempt of this unit failed halfway: run the pipeline again',
        );
      let rowsLoaded = 0;
      try {
        for await (const batch of batches) {
          rowsLoaded += batch.rows.length;
          if (delivered) continue;
          await (await writerNow()).write(batch.columns, batch.rows);
        }
      } catch (error) {
        broken = true;
        throw error;
      }
      return { rowsLoaded };
    },
    async afterLoad() {},
    async finishRun(tx: SqlClient, run: RunInfo) {
      if (delivered) return;
      const written = await (await writerNow()).end();
      if (context.dryRun) {
        context.logger.info(`dry run: ${name} (${written.rows} rows) is not delivered`);
        await rm(spool, { force: true });
        return;
      }
      await target.deliver(spool, name);
      await tx.query(
        `INSERT INTO sluice.exports (pipeline, run_id, as_of, destination, name, size, sha256, rows, completed_at)
         SELECT pipeline, $1, $2, $3, $4, $5, $6, $7, now() FROM sluice.runs WHERE id = $1
         ON CONFLICT (pipeline, destination, name) DO UPDATE SET run_id = EXCLUDED.run_id, as_of = EXCLUDED.as_of,
           size = EXCLUDED.size, sha256 = EXCLUDED.sha256, rows = EXCLUDED.rows, completed_at = now()`,
        [run.runId, run.asOf, target.destination, name, written.bytes, written.sha256, written.rows],
      );
      context.logger.info(
        `exported ${written.rows} rows to ${target.destination}/${name} (${written.bytes} bytes, sha256 ${written.sha256.slice(0, 12)}…)`,
        { outcome: true },
      );
      await rm(spool, { force: true });
    },
  };
}
