import { randomUUID } from 'node:crypto';
import { checkJob } from '../scheduler/job-kinds.js';
import type { QueuedJob } from '../scheduler/queue.js';
import { badInput, notFound } from './api-errors.js';
import type { ServiceContext } from './service-context.js';

export interface Accepted {
  requestId: string;
  jobId: string;
  kind: string;
  target: string | null;
  queue: string;
}

/**
 * Queues a job for an API call and answers at once. An unknown target named in the URL is a 404; a bad
 * option is a 400 naming `body.<field>`.
 */
export async function enqueue(
  ctx: ServiceContext,
  job: { kind: string; target?: string | undefined; options?: Record<string, unknown> },
  where: {
    targetIn: 'params' | 'body';
    targetField?: string;
    /** Where the options are in the body: at its top (the default), or under `options` (/api/jobs). */
    optionsUnder?: boolean;
  },
): Promise<Accepted> {
  const checked = checkJob(ctx.catalog, job);
  const targetProblem = checked.problems.find((p) => p.field === 'target');
  if (targetProblem && where.targetIn === 'params' && job.target) throw notFound(targetProblem.message);
  if (checked.problems.length > 0)
    throw badInput(
      checked.problems.map((p) => ({
        field:
          p.field === 'target'
            ? where.targetIn === 'params'
              ? 'params.name'
              : `body.${where.targetField ?? 'target'}`
            : `body.${where.optionsUnder ? p.field : p.field.replace(/^options\./, '')}`,
        message: p.message,
      })),
    );
  const queued: QueuedJob = {
    kind: job.kind,
    ...(job.target ? { target: job.target } : {}),
    options: (checked.options ?? {}) as Record<string, unknown>,
    requestId: randomUUID(),
    origin: 'api',
  };
  const { jobId } = await ctx.queue.add(queued, { jobKey: queued.requestId });
  return {
    requestId: queued.requestId,
    jobId,
    kind: job.kind,
    target: job.target ?? null,
    queue: ctx.queue.kind,
  };
}
