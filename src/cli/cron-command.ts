import path from 'node:path';
import type { Command } from 'commander';
import { createRegistry } from '../plugins/index.js';
import { loadCatalog, type PipelineCatalog } from '../scheduler/catalog.js';
import { membersOf } from '../scheduler/job-kinds.js';
import { listSchedules, type ScheduleRow } from '../store/schedules.js';
import { serviceFileOf } from './serve-command.js';
import { EXIT, withStore } from './shared.js';

/** Quotes a word for sh. */
function sh(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command line that does what a schedule's job does, or why there is none. */
export function commandOf(
  s: ScheduleRow,
  catalog: PipelineCatalog,
  sluice: string,
): { line: string } | { why: string } {
  const o = s.options;
  const flags = [o.force === true ? '--force' : '', typeof o.asOf === 'string' ? `--as-of ${sh(o.asOf)}` : '']
    .filter(Boolean)
    .join(' ');
  const withFlags = (cmd: string) => (flags ? `${cmd} ${flags}` : cmd);
  switch (s.kind) {
    case 'pipeline': {
      const spec = s.target ? catalog.get(s.target) : undefined;
      if (!spec) return { why: `pipeline ${s.target} is not in the service file` };
      return { line: withFlags(`${sluice} run ${sh(path.resolve(spec.file))}`) };
    }
    case 'group': {
      let specs;
      try {
        specs = membersOf(
          catalog,
          s.target ?? undefined,
          Array.isArray(o.pipelines) ? (o.pipelines as string[]) : undefined,
        );
      } catch (error) {
        return { why: (error as Error).message };
      }
      const files = specs.map((p) => sh(path.resolve(p.file))).join(' ');
      const lanes = typeof o.maxConcurrent === 'number' ? ` --max-concurrent ${o.maxConcurrent}` : '';
      return {
        line: withFlags(`${sluice} run${s.target ? ` --group ${sh(s.target)}` : ''}${lanes} ${files}`),
      };
    }
    case 'report':
      return { line: `${sluice} report send ${sh(s.target ?? '')}` };
    case 'inboxPoll':
      return { line: `${sluice} inbox poll${s.target ? ` --account ${sh(s.target)}` : ''}` };
    case 'watchImports':
      return { line: `${sluice} watch --once` };
    case 'cleanup':
      return { line: `${sluice} cleanup` };
    default:
      return { why: `kind ${s.kind} has no command line` };
  }
}

/**
 * Crontab lines for the enabled schedules, for users who keep cron: each schedule's time zone as a
 * `CRON_TZ=` line (cronie and systemd-cron read it; other crons use the system's zone).
 */
export function crontabOf(
  schedules: ScheduleRow[],
  catalog: PipelineCatalog,
  options: { sluice: string; env: string[] },
): string {
  const out = [
    '# Sluice schedules, written by `sluice cron export` (the database is the source: export again after changes).',
    'PATH=/usr/local/bin:/usr/bin:/bin',
    ...options.env,
  ];
  let zone: string | undefined;
  for (const s of schedules) {
    if (!s.enabled) continue;
    const made = commandOf(s, catalog, options.sluice);
    if (s.cron.trim().split(/\s+/).length === 6) {
      out.push(`# ${s.name}: "${s.cron}" has seconds, which cron cannot express: left out`);
      continue;
    }
    if ('why' in made) {
      out.push(`# ${s.name}: left out: ${made.why}`);
      continue;
    }
    if (s.timezone !== zone) {
      out.push(`CRON_TZ=${s.timezone}`);
      zone = s.timezone;
    }
    out.push(`# ${s.name}`, `${s.cron} ${made.line}`);
  }
  return out.join('\n') + '\n';
}

export function registerCron(program: Command, exit: (code: number) => void) {
  program
    .command('cron')
    .description('Crontab lines for the schedules, for running them from cron instead of `sluice serve`')
    .command('export')
    .description('Print a crontab for the enabled schedules (pipelines found through the service file)')
    .argument('[service-file]', 'the service file naming the pipelines (docs/service.md)')
    .option('--command <path>', 'how cron starts sluice', 'sluice')
    .action(async (file: string | undefined, flags: { command: string }) => {
      const service = await serviceFileOf(file);
      const catalog = await loadCatalog(service.pipelines, createRegistry());
      const env = [
        process.env.SLUICE_HOME
          ? `SLUICE_HOME=${process.env.SLUICE_HOME}`
          : `SLUICE_HOME=${path.resolve('.sluice')}`,
        ...(process.env.DATABASE_URL
          ? ['# DATABASE_URL=postgres://… : set it here, cron does not read your shell environment']
          : []),
      ];
      const text = await withStore(
        async (db) => crontabOf(await listSchedules(db), catalog, { sluice: flags.command, env }),
        {
          existing: true,
        },
      );
      process.stdout.write(text);
      exit(EXIT.ok);
    });
}
