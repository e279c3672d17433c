import { DEFAULT_CLAIM_TIMEOUT_MS } from '../store/run-claims.js';
import { listAccountStatus } from '../store/mail-store.js';
import { listSchedules, type ScheduleRow } from '../store/schedules.js';
import { recentRunsByPipeline, runningRuns, listRunViews, type RunView } from '../store/service-views.js';
import { nextFire } from '../scheduler/schedule-spec.js';
import type { ServiceContext } from './service-context.js';

/** One run in a sparkline: enough to draw a bar and link to the run. */
export interface RunPoint {
  id: string;
  status: string;
  startedAt: string;
  durationMs: number | null;
  rowsLoaded: number;
  rowsRejected: number;
}

export interface PipelineView {
  name: string;
  groups: string[];
  /** The file it was read from; null for a pipeline only the ledger knows (not configured here). */
  file: string | null;
  configured: boolean;
  /** The latest run's status, `running`, or `never`. */
  status: string;
  lastRun: RunView | null;
  /** The next time a schedule runs it (directly or through its group), or null. */
  nextRun: string | null;
  schedules: string[];
  /** The latest runs, newest first. */
  recent: RunPoint[];
}

/** Schedules that run a pipeline: of kind pipeline naming it, or of kind group naming one of its groups. */
function schedulesOf(schedules: ScheduleRow[], name: string, groups: string[]): ScheduleRow[] {
  return schedules.filter(
    (s) =>
      (s.kind === 'pipeline' && s.target === name) ||
      (s.kind === 'group' &&
        ((s.target !== null && groups.includes(s.target)) ||
          (Array.isArray(s.options.pipelines) && (s.options.pipelines as unknown[]).includes(name)))),
  );
}

/** The next fire of any of the schedules (enabled ones), or null. */
export function nextOf(schedules: ScheduleRow[], now = new Date()): string | null {
  let best: Date | null = null;
  for (const s of schedules) {
    if (!s.enabled) continue;
    const next = nextFire(s, now);
    if (next && (!best || next < best)) best = next;
  }
  return best?.toISOString() ?? null;
}

/** Every pipeline (configured, or seen in the ledger) with its last run, next run and recent runs. */
export async function pipelineViews(ctx: ServiceContext, recentCount: number): Promise<PipelineView[]> {
  const [runs, schedules] = await Promise.all([
    recentRunsByPipeline(ctx.db, Math.max(1, recentCount)),
    listSchedules(ctx.db),
  ]);
  const byPipeline = new Map<string, RunView[]>();
  for (const r of runs) byPipeline.set(r.pipeline, [...(byPipeline.get(r.pipeline) ?? []), r]);
  const names = new Set([...ctx.catalog.specs.keys(), ...byPipeline.keys()]);
  return [...names].sort().map((name) => {
    const spec = ctx.catalog.get(name);
    const groups = spec?.groups ?? [];
    const mine = byPipeline.get(name) ?? [];
    const own = schedulesOf(schedules, name, groups);
    return {
      name,
      groups,
      file: spec?.file ?? null,
      configured: spec !== undefined,
      status: mine[0]?.status ?? 'never',
      lastRun: mine[0] ?? null,
      nextRun: nextOf(own),
      schedules: own.map((s) => s.name),
      recent: mine.slice(0, recentCount).map((r) => ({
        id: r.id,
        status: r.status,
        startedAt: r.startedAt,
        durationMs: r.durationMs,
        rowsLoaded: r.rowsLoaded,
        rowsRejected: r.rowsRejected,
      })),
    };
  });
}

export interface StatusReport {
  status: 'healthy' | 'degraded' | 'unhealthy';
  reasons: string[];
  counts: {
    pipelines: number;
    running: number;
    succeeded: number;
    failed: number;
    never: number;
    schedules: number;
    schedulesEnabled: number;
    queueWaiting: number;
    queueRunning: number;
  };
  queue: { kind: string; waiting: number; running: number; later: number; oldestWaitSeconds: number };
  parts: { scheduler: boolean; worker: boolean };
  recent: RunView[];
}

/** A queue whose oldest due job waited longer than this is degraded (no worker takes jobs). */
const QUEUE_STUCK_SECONDS = 300;

/** Healthy, degraded or unhealthy, with the reasons; counts and recent activity. */
export async function statusReport(ctx: ServiceContext): Promise<StatusReport> {
  const [pipelines, running, schedules, queue, accounts, recent] = await Promise.all([
    pipelineViews(ctx, 1),
    runningRuns(ctx.db),
    listSchedules(ctx.db),
    ctx.queue.stats(),
    listAccountStatus(ctx.db),
    listRunViews(ctx.db, { limit: 10 }),
  ]);
  const reasons: string[] = [];
  const failed = pipelines.filter((p) => p.status === 'failed' || p.status === 'interrupted');
  for (const p of failed)
    reasons.push(
      `pipeline ${p.name}: its latest run ${p.status}${p.lastRun?.error ? `: ${p.lastRun.error}` : ''}`,
    );
  for (const r of running) {
    const timeout = (ctx.catalog.get(r.pipeline)?.run.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS) / 1000;
    if (r.silentSeconds > timeout)
      reasons.push(
        `run ${r.id} of ${r.pipeline}: no heartbeat for ${Math.round(r.silentSeconds)}s (its process may be gone)`,
      );
  }
  if (queue.oldestWaitSeconds > QUEUE_STUCK_SECONDS)
    reasons.push(
      `the oldest queued job has waited ${Math.round(queue.oldestWaitSeconds)}s: is a worker running?`,
    );
  for (const a of accounts)
    if (a.lastError && (!a.lastSuccessAt || (a.lastAttemptAt ?? '') > a.lastSuccessAt))
      reasons.push(`mail account ${a.account}: its last poll failed: ${a.lastError}`);
  const count = (status: string) => pipelines.filter((p) => p.status === status).length;
  return {
    // Reachable database and answering process: at worst degraded. Unhealthy when nothing can run.
    status:
      reasons.length === 0
        ? 'healthy'
        : failed.length > 0 && failed.length === pipelines.length
          ? 'unhealthy'
          : 'degraded',
    reasons,
    counts: {
      pipelines: pipelines.length,
      running: running.length,
      succeeded: count('succeeded'),
      failed: failed.length,
      never: count('never'),
      schedules: schedules.length,
      schedulesEnabled: schedules.filter((s) => s.enabled).length,
      queueWaiting: queue.waiting,
      queueRunning: queue.running,
    },
    queue: { kind: ctx.queue.kind, ...queue },
    parts: ctx.parts,
    recent,
  };
}
