import path from 'node:path';
import { z } from 'zod';
import { ConfigReader, type Env } from './config-file.js';
import { durationSchema } from './duration-schema.js';
import { notifySchema, type NotifySpec } from './notify-spec.js';
import { pathOption } from './path-option.js';

// Tasks: work a schedule (or `sluice task run`) runs instead of a pipeline, recorded in the run ledger like
// one. Each type's options are one zod schema, so that task files, the scheduler's job kinds and the docs
// share them.

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** A command: a program with its arguments, never through a shell unless `shell: true`. */
export const commandOptionsSchema = z.strictObject({
  program: z
    .string()
    .min(1)
    .describe(
      'The program to run: a name looked up on PATH, or a path (`./x.sh` is read from the task file’s folder). With shell: true, a shell command line.',
    ),
  args: z
    .array(z.string())
    .default([])
    .describe('Its arguments, each passed as it is (no shell: no quoting, globbing or $VARS).'),
  cwd: pathOption()
    .optional()
    .describe('Working folder; the task file’s folder by default (a relative path is read from there).'),
  env: z
    .record(z.string(), z.string())
    .default({})
    .describe('Environment variables added to those Sluice runs with.'),
  timeout: durationSchema
    .default(60 * 60_000)
    .describe('Time limit (default 1h): past it the command and every process it started are stopped.'),
  killAfter: durationSchema
    .default(10_000)
    .describe('After the time limit, how long the process group gets to exit on SIGTERM before SIGKILL.'),
  shell: z
    .boolean()
    .default(false)
    .describe(
      'Run `program` as a /bin/sh command line (pipes, &&, globs), with args as its $1, $2…. Off by default.',
    ),
});
export type CommandOptions = z.output<typeof commandOptionsSchema>;

const keepSchema = (days: number, what: string) =>
  durationSchema
    .default(days * 86_400_000)
    .describe(`${what} older than this are purged (default ${days}d).`);

/** One folder whose old files maintenance deletes (archived zips, downloaded files). */
export const folderRetentionSchema = z.strictObject({
  path: pathOption().describe('The folder; a relative path is read from the task file’s folder.'),
  olderThan: durationSchema.describe('Files last modified longer ago than this are deleted (`7d`).'),
  match: z
    .string()
    .min(1)
    .default('*')
    .describe('Only files whose name matches this pattern (`*` any text, `?` one character): `*.zip`.'),
  recursive: z.boolean().default(false).describe('Also look in the folders inside it.'),
});
export type FolderRetention = z.output<typeof folderRetentionSchema>;

/** Retention of the control plane's history and of old files. */
export const maintenanceOptionsSchema = z.strictObject({
  keep: z
    .strictObject({
      logs: keepSchema(30, 'Step log entries'),
      rejects: keepSchema(90, 'Rejected rows'),
      ledger: keepSchema(180, 'File ledger entries of rejected and skipped files'),
      runs: keepSchema(180, 'Finished runs'),
    })
    .prefault({})
    .describe(
      'Age past which history is purged. Never purged: ledger entries of loaded files (they keep a file from loading twice), state and watermarks, a pipeline’s latest run, and runs those still point at.',
    ),
  folders: z
    .array(folderRetentionSchema)
    .default([])
    .describe('Folders whose old files are deleted: archived zips, downloaded files.'),
  batchSize: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(5000)
    .describe('Rows deleted per statement: a large purge never locks a table for long.'),
});
export type MaintenanceOptions = z.output<typeof maintenanceOptionsSchema>;

/** A dated backup of a PostgreSQL database, or of the embedded one, with retention. */
export const backupOptionsSchema = z.strictObject({
  dir: pathOption().describe(
    'Folder of the backup files; a relative path is read from the task file’s folder.',
  ),
  url: z
    .string()
    .optional()
    .describe(
      'The PostgreSQL database to dump (`postgres://…`); Sluice’s own (DATABASE_URL, or the embedded one) by default.',
    ),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-"')
    .default('sluice')
    .describe('Start of the file names: `sluice-20260130-020000.dump`.'),
  keep: durationSchema
    .default(14 * 86_400_000)
    .describe(
      'Backups of this prefix older than this are deleted after a backup succeeds (default 14d); the newest always stays.',
    ),
  pgDump: z
    .string()
    .default('pg_dump')
    .describe('The pg_dump program (its major version must be the server’s or newer).'),
  timeout: durationSchema.default(6 * 60 * 60_000).describe('Time limit of the dump (default 6h).'),
});
export type BackupOptions = z.output<typeof backupOptionsSchema>;

const common = {
  name: z
    .string()
    .regex(NAME, 'a name of letters, digits, "_", "." or "-" (at most 100)')
    .describe('Unique name: it keys the run ledger and the claim (tasks share names with pipelines).'),
  description: z.string().optional().describe('What the task is for.'),
  notify: notifySchema.optional().describe('Notices when the task fails, by e-mail or webhook.'),
};

/** A task file: a name, a type and that type's options. */
export const taskFileSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...common, type: z.literal('command'), options: commandOptionsSchema }),
  z.strictObject({
    ...common,
    type: z.literal('maintenance'),
    options: maintenanceOptionsSchema.prefault({}),
  }),
  z.strictObject({ ...common, type: z.literal('backup'), options: backupOptionsSchema }),
]);

export type TaskType = 'command' | 'maintenance' | 'backup';

interface TaskBase {
  name: string;
  description?: string;
  notify?: NotifySpec;
  /** The file it was read from (`<inline>` when built in code). */
  file: string;
}

export type TaskSpec =
  | (TaskBase & { type: 'command'; options: CommandOptions })
  | (TaskBase & { type: 'maintenance'; options: MaintenanceOptions })
  | (TaskBase & { type: 'backup'; options: BackupOptions });

/**
 * Reads a task file (YAML, `${VAR}` filled from `env`, relative paths read from the file's folder) into a
 * task with every default, or throws CONFIG_INVALID listing every problem with `file:line:col key.path`.
 * A command's `program` written as a relative path (`./x.sh`, `bin/x`) is read from the file's folder too;
 * a bare name (`python3`) is looked up on PATH when it runs.
 */
export function parseTask(text: string, options: { file: string; env: Env }): TaskSpec {
  const reader = ConfigReader.fromText(text, { file: options.file, env: options.env });
  const value = reader.check(taskFileSchema, reader.value, []);
  reader.finish('the task is invalid');
  return completeTask(value!, options.file, reader.baseDir);
}

/** A task given as a value (the CLI's defaults, a schedule's options) validated as a file would be. */
export function validateTask(value: unknown, options: { file?: string; baseDir?: string } = {}): TaskSpec {
  const file = options.file ?? '<inline>';
  const reader = ConfigReader.fromValue(value, {
    file,
    ...(options.baseDir ? { baseDir: options.baseDir } : {}),
  });
  const checked = reader.check(taskFileSchema, reader.value, []);
  reader.finish('the task is invalid');
  return completeTask(checked!, file, reader.baseDir);
}

function completeTask(value: z.output<typeof taskFileSchema>, file: string, baseDir: string): TaskSpec {
  if (value.type === 'command') {
    const o = value.options;
    const program = !o.shell && o.program.includes('/') ? path.resolve(baseDir, o.program) : o.program;
    return { ...value, file, options: { ...o, program, cwd: o.cwd ?? baseDir } } as TaskSpec;
  }
  return { ...value, file } as TaskSpec;
}
