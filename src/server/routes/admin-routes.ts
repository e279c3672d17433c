import { z } from 'zod';
import { cleanupStaleRuns } from '../../runner/cleanup.js';
import { listImportRules, setImportRuleActive } from '../../store/import-rules.js';
import { listAccountStatus } from '../../store/mail-store.js';
import { listReports, listReportSends } from '../../store/reports.js';
import { latestFailedRuns } from '../../store/runs.js';
import { notFound } from '../api-errors.js';
import type { ZodApp } from '../app.js';
import { acceptedSchema, errorResponses } from '../api-schemas.js';
import { enqueue, type Accepted } from '../enqueue.js';
import type { ServiceContext } from '../service-context.js';

const staleRun = z.object({
  id: z.string(),
  pipeline: z.string(),
  host: z.string().nullable(),
  pid: z.number().nullable(),
  heartbeatAt: z.string(),
});

export const cleanupResponse = z.object({
  reaped: z
    .array(staleRun)
    .describe('Runs marked failed: their heartbeat stopped for longer than their maximum run time.'),
  alive: z.array(staleRun).describe('Silent runs left alone: their process is still there.'),
  retried: z.array(acceptedSchema.extend({ pipeline: z.string() })),
  notRetried: z.array(z.object({ pipeline: z.string(), reason: z.string() })),
});

/** Reaps stale runs; with `retry`, queues a run of each configured pipeline whose latest run failed. */
export async function cleanup(ctx: ServiceContext, retry: boolean) {
  const result = await cleanupStaleRuns(ctx.db);
  const retried: (Accepted & { pipeline: string })[] = [];
  const notRetried: { pipeline: string; reason: string }[] = [];
  if (retry)
    for (const failed of await latestFailedRuns(ctx.db)) {
      if (!ctx.catalog.get(failed.pipeline)) {
        notRetried.push({ pipeline: failed.pipeline, reason: 'not configured in this service' });
        continue;
      }
      const accepted = await enqueue(
        ctx,
        { kind: 'pipeline', target: failed.pipeline, options: { force: true } },
        { targetIn: 'body' },
      );
      retried.push({ ...accepted, pipeline: failed.pipeline });
    }
  const strip = (r: (typeof result.reaped)[number]) => ({
    id: r.id,
    pipeline: r.pipeline,
    host: r.host,
    pid: r.pid,
    heartbeatAt: r.heartbeatAt,
  });
  return { reaped: result.reaped.map(strip), alive: result.alive.map(strip), retried, notRetried };
}

export function registerAdminRoutes(app: ZodApp, ctx: ServiceContext) {
  app.post(
    '/api/cleanup',
    {
      schema: {
        summary:
          'Reap runs whose heartbeat stopped; with retry, queue a rerun of each pipeline whose latest run failed',
        tags: ['admin'],
        body: z.strictObject({ retry: z.boolean().default(false) }).default({ retry: false }),
        response: { 200: cleanupResponse, ...errorResponses },
      },
    },
    async (request) => cleanup(ctx, request.body.retry),
  );

  app.get(
    '/api/mail/accounts',
    {
      schema: {
        summary: 'Mail accounts with their rules, messages handled and last successful poll',
        tags: ['mail'],
        response: {
          200: z.object({
            accounts: z.array(
              z.object({
                account: z.string(),
                saved: z.boolean(),
                activeRules: z.number(),
                messagesHandled: z.number(),
                lastAttemptAt: z.string().nullable(),
                lastSuccessAt: z.string().nullable(),
                lastError: z.string().nullable(),
                lastCounts: z.record(z.string(), z.unknown()),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ({ accounts: await listAccountStatus(ctx.db) }),
  );

  app.get(
    '/api/rules',
    {
      schema: {
        summary: 'Import rules (docs/imports.md), with the problem of any that does not check',
        tags: ['rules'],
        response: {
          200: z.object({
            rules: z.array(
              z.object({
                name: z.string(),
                active: z.boolean(),
                definition: z.record(z.string(), z.unknown()),
                problem: z.string().nullable(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ({
      rules: (await listImportRules(ctx.db, ctx.registry)).map((r) => ({
        name: r.name,
        active: r.definition.active !== false,
        definition: r.definition,
        problem: r.problem ?? null,
      })),
    }),
  );

  for (const [action, active] of [
    ['enable', true],
    ['disable', false],
  ] as const)
    app.post(
      `/api/rules/:name/${action}`,
      {
        schema: {
          summary: `${action === 'enable' ? 'Enable' : 'Disable'} an import rule`,
          tags: ['rules'],
          params: z.object({ name: z.string().min(1) }),
          response: { 200: z.object({ name: z.string(), active: z.boolean() }), ...errorResponses },
        },
      },
      async (request) => {
        await setImportRuleActive(ctx.db, request.params.name, active); // CONFIG_NOT_FOUND: a 404
        return { name: request.params.name, active };
      },
    );

  app.get(
    '/api/reports',
    {
      schema: {
        summary: 'Reports with their schedule and latest send',
        tags: ['reports'],
        response: {
          200: z.object({
            reports: z.array(
              z.object({
                name: z.string(),
                schedule: z.string().nullable(),
                active: z.boolean(),
                updatedAt: z.string(),
                lastSend: z
                  .object({ sentAt: z.string(), status: z.string(), error: z.string().nullable() })
                  .nullable(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ({
      reports: await Promise.all(
        (await listReports(ctx.db)).map(async (r) => {
          const last = (await listReportSends(ctx.db, r.name, 1))[0];
          return {
            name: r.name,
            schedule: r.schedule,
            active: r.active,
            updatedAt: r.updated_at,
            lastSend: last ? { sentAt: last.sent_at, status: last.status, error: last.error } : null,
          };
        }),
      ),
    }),
  );

  app.post(
    '/api/reports/:name/send',
    {
      schema: {
        summary: 'Queue a send of a report (404 when unknown)',
        tags: ['reports'],
        params: z.object({ name: z.string().min(1) }),
        response: { 202: acceptedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const known = (await listReports(ctx.db)).some((r) => r.name === request.params.name);
      if (!known) throw notFound(`no report named "${request.params.name}"`);
      return reply
        .code(202)
        .send(await enqueue(ctx, { kind: 'report', target: request.params.name }, { targetIn: 'params' }));
    },
  );
}
