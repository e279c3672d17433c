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
      const runner = await run(
        {
          connectionString: url,
          concurrency,
          noHandleSignals: true,
          pollInterval: pollIntervalMs,
          logger: graphileLogger,
          taskList: {
            [SLUICE_TASK]: async (payload) => {
              running++;
              const job = payload as QueuedJob;
              try {
                await execute(job, abort.signal);
              } catch (error) {
                if (!abort.signal.aborted) throw error; // tried again with backoff
                // Stopped by this shutdown: a failure recorded now may be lost with the worker's pool, so
                // the job goes back to the queue as a new one under its key (graphile-worker retires the
                // locked one), and another worker resumes the stopped run at once.
                await addGraphileJob(db, {
                  payload: job,
                  maxAttempts: DEFAULT_MAX_ATTEMPTS,
                  jobKey: job.requestId,
                });
                logger.info(`job ${job.requestId} handed back to the queue: another worker resumes its run`);
              } finally {
                running--;
              }
            },
          },
        },
        undefined,
        [], // no graphile-worker cron: Sluice's scheduler fires schedules (and no ./crontab file is read)
      );
      runner.promise.catch((error: unknown) =>
        logger.error(`graphile-worker stopped: ${describeError(error)}`),
      );
      return {
        get running() {
          return running;
        },
        async stop(graceMs) {
          // Stops taking jobs and waits for the running ones; past the grace time their runs are stopped.
          logger.debug(`worker stopping: ${running} job(s) running, grace ${graceMs}ms`);
          const stopping = runner.stop();
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
          if ((await Promise.race([stopping.then(() => 'done' as const), late])) === 'late') {
            logger.warn(`the grace time is over: stopping the runs of ${running} running job(s)`);
            abort.abort(shutdownStop());
          }
          clearTimeout(timer);
          await stopping;
        },
      };
    },
    async close() {},
  };
}
