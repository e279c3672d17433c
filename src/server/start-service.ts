import type { Logger } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import type { PipelineCatalog } from '../scheduler/catalog.js';
import { createJobRunner, LiveRuns } from '../scheduler/job-runner.js';
import type { JobContext } from '../scheduler/job-kinds.js';
import { createGraphileQueue } from '../scheduler/graphile-queue.js';
import { startScheduler, type Scheduler } from '../scheduler/scheduler.js';
import { createInProcessQueue, type JobQueue, type QueueWorker } from '../scheduler/queue.js';
import type { EtlApiConfig } from '../scheduler/service-config.js';
import type { Database } from '../store/database.js';
import { buildApi } from './app.js';
import { createServiceMetrics } from './metrics.js';
import type { ServiceContext } from './service-context.js';

export interface ServiceOptions {
  db: Database;
  home: string;
  registry: Registry;
  catalog: PipelineCatalog;
  logger: Logger;
  /** Listen on this port (0: any free one); undefined: no API (a worker). */
  port?: number;
  host?: string;
  token?: string;
  openReads?: boolean;
  etl?: EtlApiConfig;
  /** Jobs run at once by this process's worker; 0: no worker. */
  concurrency: number;
  /** The queue; by default the one that fits the database (graphile-worker needs the URL). */
  queue?: JobQueue;
  databaseUrl?: string;
  /** Run the scheduler (claims ticks, queues their jobs, rescues runs of dead workers). */
  scheduler?: boolean | { pollMs?: number; lateAfterMs?: number };
  pollInbox?: JobContext['pollInbox'];
}

export interface RunningService {
  /** `http://host:port` when the API listens. */
  url?: string;
  context: ServiceContext;
  /**
   * Shuts down: stops taking requests and jobs, waits up to `graceMs` for running jobs, then stops their
   * runs through their AbortSignal (they record `stopped` and release their claims).
   */
  stop(graceMs: number): Promise<void>;
}

/** The queue that fits the database: graphile-worker on a server, in memory on the embedded one. */
export async function openQueue(
  db: Database,
  databaseUrl: string | undefined,
  logger: Logger,
): Promise<JobQueue> {
  if (db.kind === 'postgres' && databaseUrl) return createGraphileQueue(db, databaseUrl, logger);
  return createInProcessQueue();
}

/** Starts the parts of a service this process runs: the API, the worker. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { db, logger } = options;
  const queue = options.queue ?? (await openQueue(db, options.databaseUrl, logger));
  const metrics = createServiceMetrics(db, queue);
  const live = new LiveRuns();
  const context: ServiceContext = {
    db,
    home: options.home,
    registry: options.registry,
    catalog: options.catalog,
    queue,
    live,
    metrics,
    logger,
    openReads: options.openReads ?? false,
    parts: { scheduler: Boolean(options.scheduler), worker: options.concurrency > 0 },
    ...(options.token ? { token: options.token } : {}),
    ...(options.etl ? { etl: options.etl } : {}),
  };
  let worker: QueueWorker | undefined;
  if (options.concurrency > 0) {
    const execute = createJobRunner({
      db,
      home: options.home,
      registry: options.registry,
      catalog: options.catalog,
      logger,
      live,
      onJobDone: (job, outcome, ms) => metrics.observeJob(job.kind, outcome.status, ms / 1000),
      ...(options.pollInbox ? { pollInbox: options.pollInbox } : {}),
    });
    worker = await queue.startWorker({ concurrency: options.concurrency, execute });
  }
  let scheduler: Scheduler | undefined;
  if (options.scheduler) {
    const tuning = typeof options.scheduler === 'object' ? options.scheduler : {};
    scheduler = startScheduler({
      db,
      queue,
      catalog: options.catalog,
      logger,
      onTick: (schedule, lag) => metrics.observeTick(schedule, lag),
      ...tuning,
    });
  }
  let api: Awaited<ReturnType<typeof buildApi>> | undefined;
  let url: string | undefined;
  if (options.port !== undefined) {
    api = await buildApi(context);
    url = await api.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
    logger.info(`API listening on ${url} (OpenAPI at ${url}/docs)`);
  }
  return {
    ...(url ? { url } : {}),
    context,
    async stop(graceMs) {
      // The worker stops taking jobs first; the API answers (503) while its runs get their grace time.
      const stoppingWorker = worker?.stop(graceMs);
      await scheduler?.stop();
      logger.debug('scheduler stopped');
      await api?.close();
      logger.debug('API closed');
      await stoppingWorker;
      logger.debug('worker stopped');
      await queue.close();
    },
  };
}
