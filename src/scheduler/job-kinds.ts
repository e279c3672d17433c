import { z } from 'zod';
import { isIsoDate } from '../core/dates.js';
import { describeError, isSluiceError, SluiceError } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import type { Registry } from '../core/registry.js';
import type { Progress } from '../core/run-summary.js';
import { sendReport } from '../notify/reports.js';
import { cleanupStaleRuns } from '../runner/cleanup.js';
import { runGroup } from '../runner/run-group.js';
import { runPipeline } from '../runner/run-pipeline.js';
import { watchOnce } from '../runner/watch-imports.js';
import type { Database } from '../store/database.js';
import type { PipelineCatalog } from './catalog.js';
import { OPS_JOB_KINDS } from './ops-kinds.js';

// What a schedule (or an API call) can run. Each kind is a name, a zod schema of its options and a run
// function; a job names its kind, a target and options, and the worker calls `run` with the job's request
// id. Add a kind by adding an entry to JOB_KINDS: the API, the CLI and the scheduler all read this list.

/** What a job's run function is given: the process's services, and the job's request id. */
export interface JobContext {
  db: Database;
  home: string;
  registry: Registry;
  catalog: PipelineCatalog;
  logger: Logger;
  /** The job's key: a job delivered twice has the same one, and its pipeline runs once. */
  requestId: string;
  /** Live progress of the pipeline runs of this job, for the API. */
  onProgress?: (pipeline: string, progress: Progress) => void;
  /** Polls mail accounts (given by the CLI layer, which owns the mail plugins). */
  pollInbox?: (account: string | undefined, logger: Logger) => Promise<unknown>;
}

/** What a job did. `retry`: the job should be tried again later (another process holds the pipeline). */
export interface JobOutcome {
  status: 'succeeded' | 'failed' | 'stopped' | 'skipped';
  runIds: string[];
  message?: string;
  retry?: boolean;
}

export interface JobKind<S extends z.ZodType = z.ZodType> {
  name: string;
  summary: string;
  /** Whether a target must be given, may be, or must not. */
  target: 'required' | 'optional' | 'none';
  options: S;
  /** Why `target` cannot be run (an unknown pipeline or group), checked before a job is queued. */
  checkTarget?: (catalog: PipelineCatalog, target: string) => string | undefined;
  /** Problems of the (parsed) options that need the catalog, as `field: message` (field under options). */
  checkOptions?: (
    catalog: PipelineCatalog,
    target: string | undefined,
    options: z.output<S>,
  ) => { field: string; message: string }[];
  run(
    context: JobContext,
    target: string | undefined,
    options: z.output<S>,
    signal: AbortSignal,
  ): Promise<JobOutcome>;
}

/** A kind, typed by its options schema. */
export function defineJobKind<S extends z.ZodType>(kind: JobKind<S>): JobKind<S> {
  return kind;
}

const asOf = z
  .string()
  .refine(isIsoDate, 'a date as YYYY-MM-DD')
  .optional()
  .describe('The run date, YYYY-MM-DD (default: today).');
const force = z.boolean().optional().describe('Run even inside the refresh window.');

function unknownPipeline(catalog: PipelineCatalog, name: string): string | undefined {
  return catalog.get(name) ? undefined : `no pipeline named "${name}" is configured`;
}

const pipelineKind = defineJobKind({
  name: 'pipeline',
  summary: 'Run one pipeline (its name is the target).',
  target: 'required',
  options: z.strictObject({ force, asOf }),
  checkTarget: unknownPipeline,
  async run(context, target, options, signal) {
    const spec = context.catalog.get(target!);
    if (!spec) throw new SluiceError('CONFIG_NOT_FOUND', unknownPipeline(context.catalog, target!)!);
    try {
      const summary = await runPipeline({
        db: context.db,
        spec,
        registry: context.registry,
        home: context.home,
        signal,
        requestId: context.requestId,
        ...(options.force ? { force: true } : {}),
        ...(options.asOf ? { asOf: options.asOf } : {}),
        onProgress: (p) => context.onProgress?.(spec.name, p),
      });
      return {
        status: summary.status,
        runIds: summary.runId ? [summary.runId] : [],
        ...(summary.error ? { message: summary.error.message } : {}),
        ...(summary.skipReason ? { message: summary.skipReason } : {}),
      };
    } catch (error) {
      // Another process holds the pipeline: try the job again later (its claim may be taken over).
      if (isSluiceError(error, 'PIPELINE_RUNNING'))
        return { status: 'failed', runIds: [], message: describeError(error), retry: true };
      throw error;
    }
  },
});

const groupKind = defineJobKind({
  name: 'group',
  summary: 'Run the pipelines of a group side by side (the group is the target), or those listed.',
  target: 'optional',
  options: z.strictObject({
    force,
    asOf,
    maxConcurrent: z.number().int().min(1).max(64).default(1).describe('Pipelines run at once.'),
    pipelines: z
      .array(z.string())
      .min(1)
      .optional()
      .describe('Only these pipelines (of the group, if one is given).'),
  }),
  checkTarget: (catalog, target) =>
    catalog.group(target).length > 0 ? undefined : `no pipeline belongs to a group named "${target}"`,
  checkOptions(catalog, target, options) {
    if (!target && !options.pipelines)
      return [{ field: 'pipelines', message: 'a group job names a group (the target) or lists pipelines' }];
    const pool = new Set((target ? catalog.group(target) : [...catalog.specs.values()]).map((s) => s.name));
    return (options.pipelines ?? []).flatMap((name, i) =>
      pool.has(name)
        ? []
        : [
            {
              field: `pipelines.${i}`,
              message: target
                ? `no pipeline named "${name}" in group "${target}"`
                : `no pipeline named "${name}" is configured`,
            },
          ],
    );
  },
  async run(context, target, options, signal) {
    const specs = membersOf(context.catalog, target, options.pipelines);
    const results = await runGroup(specs, {
      db: context.db,
      registry: context.registry,
      home: context.home,
      signal,
      maxConcurrent: options.maxConcurrent,
      ...(options.force ? { force: true } : {}),
      ...(options.asOf ? { asOf: options.asOf } : {}),
      // One request per member: a job delivered twice runs each pipeline once.
      requestIdOf: (pipeline: string) => `${context.requestId}/${pipeline}`,
      onProgressOf: (pipeline: string) => (p: Progress) => context.onProgress?.(pipeline, p),
    });
    const runIds = results.flatMap((r) => (r.summary?.runId ? [r.summary.runId] : []));
    const bad = results.filter(
      (r) => r.status === 'failed' || r.status === 'error' || r.status === 'refused',
    );
    return {
      status: results.some((r) => r.status === 'stopped')
        ? 'stopped'
        : bad.length > 0
          ? 'failed'
          : 'succeeded',
      runIds,
      ...(bad.length > 0
        ? { message: bad.map((r) => `${r.pipeline}: ${r.error?.message ?? r.status}`).join('; ') }
        : {}),
      retry: results.some((r) => r.status === 'refused'),
    };
  },
});

/** The pipelines a group job runs: those of the group, narrowed to `names` (each must exist). */
export function membersOf(catalog: PipelineCatalog, group: string | undefined, names: string[] | undefined) {
  const pool = group ? catalog.group(group) : [...catalog.specs.values()];
  if (!names) {
    if (!group) throw new SluiceError('CONFIG_INVALID', 'a group job names a group or lists pipelines');
    return pool;
  }
  return names.map((name) => {
    const spec = pool.find((s) => s.name === name);
    if (!spec)
      throw new SluiceError(
        'CONFIG_NOT_FOUND',
        group
          ? `no pipeline named "${name}" in group "${group}"`
          : `no pipeline named "${name}" is configured`,
      );
    return spec;
  });
}

const reportKind = defineJobKind({
  name: 'report',
  summary: 'Send a report (its name is the target), as `sluice report send` does.',
  target: 'required',
  options: z.strictObject({}),
  async run(context, target) {
    const result = await sendReport(context.db, target!, { logger: context.logger });
    return {
      status: result.status === 'failed' ? 'failed' : 'succeeded',
      runIds: [],
      ...(result.error ? { message: result.error } : {}),
    };
  },
});

const inboxPollKind = defineJobKind({
  name: 'inboxPoll',
  summary: 'Poll a mail account (the target) or every saved one into their folders, as `sluice inbox poll`.',
  target: 'optional',
  options: z.strictObject({}),
  async run(context, target) {
    if (!context.pollInbox) throw new SluiceError('INTERNAL', 'this process cannot poll mail');
    await context.pollInbox(target, context.logger);
    return { status: 'succeeded', runIds: [] };
  },
});

const watchImportsKind = defineJobKind({
  name: 'watchImports',
  summary: "Import the files now in the active import rules' folders, as `sluice watch --once`.",
  target: 'none',
  options: z.strictObject({}),
  async run(context, _target, _options, signal) {
    const results = await watchOnce({
      db: context.db,
      registry: context.registry,
      home: context.home,
      logger: context.logger,
      signal,
    });
    const errors = results.filter((r) => r.kind === 'error');
    return {
      status: errors.length > 0 ? 'failed' : 'succeeded',
      runIds: [],
      message: `${results.length} file(s) handled, ${errors.length} failed`,
    };
  },
});

const cleanupKind = defineJobKind({
  name: 'cleanup',
  summary: 'Reap runs whose heartbeat stopped, as `sluice cleanup`.',
  target: 'none',
  options: z.strictObject({}),
  async run(context) {
    const result = await cleanupStaleRuns(context.db);
    return {
      status: 'succeeded',
      runIds: result.reaped.map((r) => r.id),
      message: `${result.reaped.length} reaped`,
    };
  },
});

/** Every kind a schedule or a job can run; the ops kinds (command, maintenance, backup) are in ops-kinds.ts. */
export const JOB_KINDS: JobKind[] = [
  pipelineKind,
  groupKind,
  reportKind,
  inboxPollKind,
  watchImportsKind,
  cleanupKind,
  ...OPS_JOB_KINDS,
] as JobKind[];

export function jobKind(name: string): JobKind | undefined {
  return JOB_KINDS.find((k) => k.name === name);
}

/**
 * Why a job of `kind` for `target` with `options` cannot be queued (unknown kind or target, bad options),
 * as a list of `field: problem` lines; empty when it can. The parsed options come back too.
 */
export function checkJob(
  /** Without one (the CLI, which knows no pipelines), targets are not checked. */
  catalog: PipelineCatalog | undefined,
  job: { kind: string; target?: string | null | undefined; options?: unknown },
): { problems: { field: string; message: string }[]; options?: unknown } {
  const kind = jobKind(job.kind);
  if (!kind)
    return {
      problems: [
        {
          field: 'kind',
          message: `unknown kind "${job.kind}"; expected one of: ${JOB_KINDS.map((k) => k.name).join(', ')}`,
        },
      ],
    };
  const problems: { field: string; message: string }[] = [];
  const target = job.target ?? undefined;
  if (kind.target === 'required' && !target)
    problems.push({ field: 'target', message: `a ${kind.name} job needs a target` });
  if (kind.target === 'none' && target)
    problems.push({ field: 'target', message: `a ${kind.name} job takes no target` });
  if (target && kind.checkTarget && catalog) {
    const problem = kind.checkTarget(catalog, target);
    if (problem) problems.push({ field: 'target', message: problem });
  }
  const parsed = kind.options.safeParse(job.options ?? {});
  if (!parsed.success)
    for (const issue of parsed.error.issues)
      problems.push({ field: ['options', ...issue.path.map(String)].join('.'), message: issue.message });
  else if (catalog && kind.checkOptions && !problems.some((p) => p.field === 'target'))
    for (const p of kind.checkOptions(catalog, target, parsed.data))
      problems.push({ field: `options.${p.field}`, message: p.message });
  return parsed.success ? { problems, options: parsed.data } : { problems };
}
