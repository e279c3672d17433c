import type { Logger } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import type { PipelineCatalog } from '../scheduler/catalog.js';
import type { LiveRuns } from '../scheduler/job-runner.js';
import type { JobQueue } from '../scheduler/queue.js';
import type { EtlApiConfig } from '../scheduler/service-config.js';
import type { Database } from '../store/database.js';
import type { ServiceMetrics } from './metrics.js';

/** What the API's routes work with: one per process. */
export interface ServiceContext {
  db: Database;
  home: string;
  registry: Registry;
  catalog: PipelineCatalog;
  queue: JobQueue;
  live: LiveRuns;
  metrics: ServiceMetrics;
  logger: Logger;
  /** Bearer token for changes (and for reads unless `openReads`); without one, changes are refused. */
  token?: string;
  openReads: boolean;
  etl?: EtlApiConfig;
  /** The processes' own checks for /api/status (worker running, scheduler running). */
  parts: { scheduler: boolean; worker: boolean };
}
