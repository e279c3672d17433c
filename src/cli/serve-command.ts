import { Option, type Command } from 'commander';
import { describeError, SluiceError } from '../core/errors.js';
import { createRegistry } from '../plugins/index.js';
import { loadCatalog } from '../scheduler/catalog.js';
import { checkJob } from '../scheduler/job-kinds.js';
import { ensureDefaultSchedules } from '../scheduler/ops-kinds.js';
import { readServiceFile, type ServiceFile } from '../scheduler/service-config.js';
import { createServiceLogger } from '../server/service-logger.js';
import { startService } from '../server/start-service.js';
import type { Database } from '../store/database.js';
import { saveSchedule } from '../store/schedules.js';
import { durationArgument, wholeNumber, withStore } from './shared.js';

export interface ServiceFlags {
  port?: number;
  host?: string;
  worker?: boolean;
  scheduler?: boolean;
  concurrency: number;
  /** Milliseconds. */
  grace: number;
}

/** SLUICE_PORT, or 8080. */
function envPort(): number {
  const text = process.env.SLUICE_PORT;
  if (!text) return 8080;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new SluiceError('CONFIG_INVALID', `SLUICE_PORT must be a port number, found "${text}"`);
  return port;
}

/** The service file, or an empty one (no pipelines, no schedules). */
export async function serviceFileOf(file: string | undefined): Promise<ServiceFile> {
  return file ? readServiceFile(file) : { pipelines: [], schedules: [], file: '<none>' };
}

/**
 * Saves the schedules of the service file that are not in the database yet: the file seeds them, and
 * changes made since through the API or `sluice schedule` are kept (`sluice schedule load` replaces).
 */
async function seedSchedules(
  db: Database,
  service: ServiceFile,
  check: (s: ServiceFile['schedules'][number]) => void,
) {
  let added = 0;
  for (const s of service.schedules) {
    check(s);
    if (await saveSchedule(db, { ...s, target: s.target ?? null })) added++;
  }
  return added;
}

/**
 * Runs this process as part of the service until SIGTERM or SIGINT: `serve` (API, scheduler and worker)
 * or `worker` (jobs only). The first signal shuts down gracefully (no new jobs; running ones get the
 * grace time, then are stopped and record it); a second exits at once.
 */
export async function runServiceProcess(
  role: 'serve' | 'worker',
  file: string | undefined,
  flags: ServiceFlags,
): Promise<number> {
  const logger = createServiceLogger();
  const registry = createRegistry();
  const service = await serviceFileOf(file ?? (process.env.SLUICE_SERVICE_FILE || undefined));
  const catalog = await loadCatalog(service.pipelines, registry);
  const databaseUrl = process.env.DATABASE_URL || undefined;
  if (role === 'worker' && !databaseUrl)
    throw new SluiceError('CONFIG_INVALID', '`sluice worker` needs a PostgreSQL server: set DATABASE_URL', {
      hint: 'On the embedded database one process does everything: `sluice serve` runs the jobs itself.',
    });
  const concurrency = flags.worker === false ? 0 : flags.concurrency;
  return withStore(
    async (db, home) => {
      if (role === 'serve') {
        const added = await seedSchedules(db, service, (s) => {
          const problems = checkJob(catalog, s).problems;
          if (problems.length > 0)
            throw new SluiceError(
              'CONFIG_INVALID',
              `schedule ${s.name}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
              { where: service.file },
            );
        });
        if (added > 0) logger.info(`${added} schedule(s) added from ${service.file}`);
        // Weekly maintenance unless a schedule of its name exists (edited or disabled ones stay so).
        const defaults = await ensureDefaultSchedules(db);
        if (defaults.length > 0) logger.info(`default schedule(s) added: ${defaults.join(', ')}`);
      }
      const { pollAccounts } = await import('./inbox-command.js');
      const token = process.env.SLUICE_API_TOKEN || undefined;
      const running = await startService({
        db,
        home,
        registry,
        catalog,
        logger,
        concurrency,
        ...(databaseUrl ? { databaseUrl } : {}),
        ...(role === 'serve'
          ? {
              port: flags.port ?? envPort(),
              host: flags.host ?? (process.env.SLUICE_HOST || '127.0.0.1'),
              scheduler: flags.scheduler !== false,
              openReads: /^(1|true|yes)$/i.test(process.env.SLUICE_API_OPEN_READS ?? ''),
              ...(token ? { token } : {}),
              ...(service.etl ? { etl: service.etl } : {}),
            }
          : {}),
        pollInbox: (account, log) => pollAccounts(db, account, log),
      });
      logger.info(
        `sluice ${role} started: ${catalog.specs.size} pipeline(s); ${
          concurrency > 0
            ? `worker on ${running.context.queue.kind}, ${concurrency} job(s) at once`
            : 'no worker'
        }${role === 'serve' ? `; scheduler ${flags.scheduler === false ? 'off' : 'on'}` : ''}${
          role === 'serve' && !token ? '; no SLUICE_API_TOKEN: the API refuses changes' : ''
        }`,
      );
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      logger.info(
        `${signal}: shutting down (running jobs get ${flags.grace / 1000}s; a second signal exits at once)`,
      );
      const now = () => {
        logger.warn('second signal: exiting now (what committed stays; the runs are resumed later)');
        process.exit(1);
      };
      process.once('SIGTERM', now);
      process.once('SIGINT', now);
      try {
        await running.stop(flags.grace);
      } catch (error) {
        logger.error(`shutdown: ${describeError(error)}`);
      }
      logger.info('stopped');
      return 0;
    },
    { lanes: Math.max(1, concurrency) + 1, share: true, own: true },
  );
}

export function registerServe(program: Command, exit: (code: number) => void) {
  const serve = program
    .command('serve')
    .description('Run as a service: the HTTP API, the scheduler and a worker (docs/service.md)')
    .argument('[service-file]', 'YAML with pipelines:, schedules: and etl: (default: SLUICE_SERVICE_FILE)')
    .option('--port <n>', 'HTTP port (default: SLUICE_PORT, or 8080)', wholeNumber(0))
    .option('--host <address>', 'address to listen on (default: SLUICE_HOST, or 127.0.0.1)')
    .option('--no-worker', 'run no jobs here (workers elsewhere do)')
    .option('--no-scheduler', 'fire no schedules here');
  withWorkerOptions(serve, 'jobs run at once by this worker').action(
    async (file: string | undefined, flags: ServiceFlags) =>
      exit(await runServiceProcess('serve', file, flags)),
  );
}

/** The options of a process that runs jobs (`serve` and `worker`): how many at once, how long on SIGTERM. */
export function withWorkerOptions(command: Command, concurrency: string): Command {
  return command
    .option('--concurrency <n>', concurrency, wholeNumber(1), 2)
    .addOption(
      new Option('--grace <duration>', 'on SIGTERM, how long running jobs may take before they are stopped')
        .argParser(durationArgument(0))
        .default(30_000, '30s'),
    );
}
