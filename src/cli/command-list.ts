import type { Command } from 'commander';

/** Adds a command (and its subcommands) to the program; `exit` sets the exit code once the action is done. */
export type RegisterCommand = (program: Command, exit: (code: number) => void) => void;

export interface CommandEntry {
  name: string;
  /** The command's description, shown by `sluice --help` without loading the command's module. */
  summary: string;
  load: () => Promise<RegisterCommand>;
}

/**
 * Every command, in the order `sluice --help` lists them. A command's module (and through it pg, PGlite,
 * exceljs…) is imported only when that command runs, so that `sluice --help` and `sluice runs` start fast.
 * A test checks each summary against the description its module registers.
 */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'run',
    summary: 'Run a pipeline once, or the pipelines of a group side by side',
    load: async () => (await import('./run-command.js')).registerRun,
  },
  {
    name: 'validate',
    summary: 'Check pipeline files without running them',
    load: async () => (await import('./validate-command.js')).registerValidate,
  },
  {
    name: 'runs',
    summary: 'List recent runs from the run ledger, or show one run',
    load: async () => (await import('./runs-command.js')).registerRuns,
  },
  {
    name: 'rejects',
    summary: "Show rejected rows with their reasons (by default the latest run's)",
    load: async () => (await import('./rejects-command.js')).registerRejects,
  },
  {
    name: 'sql',
    summary: "Run SQL on Sluice's database (embedded or DATABASE_URL) and print the result",
    load: async () => (await import('./sql-command.js')).registerSql,
  },
  {
    name: 'state',
    summary: "A pipeline's saved state: watermarks, ETags",
    load: async () => (await import('./state-command.js')).registerState,
  },
  {
    name: 'cleanup',
    summary:
      'Mark runs whose heartbeat stopped for longer than their maximum run time as failed, releasing their claims; --retry reruns the pipelines whose last run failed',
    load: async () => (await import('./cleanup-command.js')).registerCleanup,
  },
  {
    name: 'task',
    summary: 'Tasks: commands, maintenance and backups, recorded in the run ledger (see docs/operations.md)',
    load: async () => (await import('./task-command.js')).registerTask,
  },
  {
    name: 'maintenance',
    summary:
      'Purge old step logs, rejects, ledger entries and runs, and old files of folders (archives, downloads); reports what it removed',
    load: async () => (await import('./maintenance-command.js')).registerMaintenance,
  },
  {
    name: 'backup',
    summary:
      "Back up Sluice's database into a dated file (pg_dump, or a copy of the embedded one) and delete old backups",
    load: async () => (await import('./backup-command.js')).registerBackup,
  },
  {
    name: 'restore',
    summary:
      'Restore a backup: a .dump into a PostgreSQL database (pg_restore), a .tar.gz as the embedded database of SLUICE_HOME',
    load: async () => (await import('./restore-command.js')).registerRestore,
  },
  {
    name: 'plugins',
    summary: 'List every plugin with its options',
    load: async () => (await import('./plugins-command.js')).registerPlugins,
  },
  {
    name: 'schema',
    summary: 'Print the JSON Schema of pipeline files (for editors: yaml-language-server)',
    load: async () => (await import('./schema-command.js')).registerSchema,
  },
  {
    name: 'convert',
    summary:
      "Convert a sheet of an Excel workbook (.xls or .xlsx) to CSV: every row that holds a value, at the sheet's full width; with --header-row or --skip-rows, as an import would read it",
    load: async () => (await import('./convert-command.js')).registerConvert,
  },
  {
    name: 'rules',
    summary: 'Import rules: which files of an inbox folder go to which table (see docs/imports.md)',
    load: async () => (await import('./rules-command.js')).registerRules,
  },
  {
    name: 'watch',
    summary:
      "Import the files arriving in the active import rules' source folders (see `sluice rules`, docs/imports.md)",
    load: async () => (await import('./watch-command.js')).registerWatch,
  },
  {
    name: 'datasets',
    summary: 'List the imported datasets, newest first',
    load: async () => (await import('./datasets-command.js')).registerDatasets,
  },
  {
    name: 'dataset',
    summary: 'Datasets and their versions: lake datasets (the lake loader) and imported ones',
    load: async () => (await import('./dataset-command.js')).registerDataset,
  },
  {
    name: 'report',
    summary: 'Mailed reports: SQL grids and attachments',
    load: async () => (await import('./report-command.js')).registerReport,
  },
  {
    name: 'inbox',
    summary: 'Mail in: accounts and inbox rules, and polling them into folders',
    load: async () => (await import('./inbox-command.js')).registerInbox,
  },
  {
    name: 'serve',
    summary: 'Run as a service: the HTTP API, the scheduler and a worker (docs/service.md)',
    load: async () => (await import('./serve-command.js')).registerServe,
  },
  {
    name: 'worker',
    summary: 'Run queued jobs only (PostgreSQL server; several workers share the queue)',
    load: async () => (await import('./worker-command.js')).registerWorker,
  },
  {
    name: 'schedule',
    summary: 'Schedules: what runs when (cron with a time zone), in the database; `sluice serve` fires them',
    load: async () => (await import('./schedule-command.js')).registerSchedule,
  },
  {
    name: 'cron',
    summary: 'Crontab lines for the schedules, for running them from cron instead of `sluice serve`',
    load: async () => (await import('./cron-command.js')).registerCron,
  },
  {
    name: 'demo',
    summary: 'Run the visitor ETL example on sample data (what `npm start` does)',
    load: async () => (await import('./demo-command.js')).registerDemo,
  },
];
