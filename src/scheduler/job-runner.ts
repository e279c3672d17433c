import { describeError, SluiceError } from '../core/errors.js';
import type { Progress } from '../core/run-summary.js';
import { checkJob, jobKind, type JobContext, type JobOutcome } from './job-kinds.js';
import type { ExecuteJob, QueuedJob } from './queue.js';

/** The live progress of a pipeline run in this process, for the API's progress route. */
export interface LiveProgress extends Progress {
  pipeline: string;
  requestId: string;
  startedAt: number;
  updatedAt: number;
}

/** Runs of this process in progress, by pipeline. */
export class LiveRuns {
  private readonly byPipeline = new Map<string, LiveProgress>();
  update(pipeline: string, requestId: string, progress: Progress) {
    const now = Date.now();
    const known = this.byPipeline.get(pipeline);
    this.byPipeline.set(pipeline, {
      ...progress,
      pipeline,
      requestId,
      startedAt: known && known.requestId === requestId ? known.startedAt : now,
      updatedAt: now,
    });
  }
  end(pipeline: string) {
    this.byPipeline.delete(pipeline);
  }
  get(pipeline: string): LiveProgress | undefined {
    return this.byPipeline.get(pipeline);
  }
}

export interface JobRunnerOptions extends Omit<JobContext, 'requestId' | 'onProgress'> {
  live?: LiveRuns;
  /** Called when a job ends (for metrics and logs). */
  onJobDone?: (job: QueuedJob, outcome: JobOutcome, ms: number) => void;
}

/**
 * The function a worker runs each job with: checks the job, runs its kind with the job's request id, and
 * throws (so the queue tries again with backoff) when the job should run again: its pipeline was held
 * by another process, or the run was stopped by a shutdown (the next attempt resumes it).
 */
export function createJobRunner(options: JobRunnerOptions): ExecuteJob {
  const { live, onJobDone, ...base } = options;
  return async (job, signal) => {
    const kind = jobKind(job.kind);
    const checked = checkJob(base.catalog, job);
    if (!kind || checked.problems.length > 0) {
      // Never becomes valid by waiting: logged, not retried.
      base.logger.error(
        `job ${job.requestId} cannot run: ${checked.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      );
      return;
    }
    const started = performance.now();
    const seen = new Set<string>();
    const context: JobContext = {
      ...base,
      requestId: job.requestId,
      onProgress: (pipeline, progress) => {
        seen.add(pipeline);
        live?.update(pipeline, job.requestId, progress);
      },
    };
    let outcome: JobOutcome;
    try {
      outcome = await kind.run(context, job.target, checked.options, signal);
    } catch (error) {
      outcome = { status: 'failed', runIds: [], message: describeError(error) };
      base.logger.error(
        `job ${job.kind} ${job.target ?? ''} (${job.requestId}) failed: ${describeError(error)}`,
      );
    } finally {
      for (const p of seen) live?.end(p);
    }
    onJobDone?.(job, outcome, performance.now() - started);
    base.logger.info(
      `job ${job.kind}${job.target ? ` ${job.target}` : ''} (${job.requestId}) ${outcome.status}${outcome.message ? `: ${outcome.message}` : ''}`,
    );
    if (outcome.retry || outcome.status === 'stopped')
      throw new SluiceError(
        'PIPELINE_RUNNING',
        outcome.message ?? `job ${job.requestId} is tried again later`,
        {
          retryable: true,
        },
      );
  };
}
