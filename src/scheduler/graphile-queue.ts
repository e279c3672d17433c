import { describeError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import type { SqlClient } from '../core/sql.js';
import type { Database } from '../store/database.js';
import { addGraphileJob, graphileQueueStats, SLUICE_TASK } from '../store/queue-jobs.js';
import { DEFAULT_MAX_ATTEMPTS, shutdownStop, type JobQueue, type QueuedJob } from './queue.js';

/**
 * The run queue on a PostgreSQL server: graphile-worker (0.17, its Node 20 line), its schema in the same
 * database. Any number of `serve` and `worker` processes on any machines share it: a job is locked by one
 * worker at a time, a job that throws is tried again with exponential backoff, and jobs are added by SQL
 * in Sluice's own transactions (a schedule's tick and its job commit together).
 */
export async function createGraphileQueue(db: Database, url: string, logger: Logger): Promise<JobQueue> {
  const { runMigrations, run, Logger: GraphileLogger } = await import('graphile-worker');
  // graphile-worker's own messages go to the service log at debug level. A job that throws is one Sluice
  // asked to try again (its job runner logged why): a warning of one line, without graphile's stack.
  const graphileLogger = new GraphileLogger(() => (level, message) => {
    const line = `graphile-worker: ${message.split('\n')[0]}`;
    if (/^Failed task/.test(message)) logger.warn(line);
    else if (level === 'error') logger.error(line);
    else if (level === 'warning') logger.warn(line);
    else logger.debug(line);
  });
  await runMigrations({ connectionString: url, logger: graphileLogger });
  return {
    kind: 'graphile-worker',
    async add(job, options = {}) {
      const client: SqlClient = options.client ?? db;
      const jobId = await addGraphileJob(client, {
        payload: job,
        maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        ...(options.runAt ? { runAt: options.runAt } : {}),
        ...(options.jobKey ? { jobKey: options.jobKey } : {}),
        ...(options.keepWaiting ? { keyMode: 'preserve_run_at' as const } : {}),
      });
      return { jobId };
    },
    stats: () => graphileQueueStats(db),
    async startWorker({ concurrency, execute, pollIntervalMs = 1000 }) {
      const abort = new AbortController();
      let running = 0;
      const runner = await run({
        connectionString: url,
        concurrency,
        noHandleSignals: true,
        pollInterval: pollIntervalMs,
        logger: graphileLogger,
        taskList: {
          [SLUICE_TASK]: async (payload) => {
            running++;
            try {
              await execute(payload as QueuedJob, abort.signal);
            } finally {
              running--;
            }
          },
        },
      });
      runner.promise.catch((error: unknown) =>
        logger.error(`graphile-worker stopped: ${describeError(error)}`),
      );
      return {
        get running() {
          return running;
        },
        async stop(graceMs) {
          // Stops taking jobs and waits for the running ones; past the grace time their runs are stopped.
          const stopping = runner.stop();
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
          if ((await Promise.race([stopping.then(() => 'done' as const), late])) === 'late')
            abort.abort(shutdownStop());
          clearTimeout(timer);
          await stopping;
        },
      };
    },
    async close() {},
  };
}
