import { z } from 'zod';
import { MIGRATIONS_DIR } from '../../store/migrate.js';
import { appliedMigrations } from '../../store/service-views.js';
import { readdir } from 'node:fs/promises';
import type { ZodApp } from '../app.js';
import { apiErrorSchema, runSchema } from '../api-schemas.js';
import type { ServiceContext } from '../service-context.js';
import { statusReport } from '../views.js';

export function registerHealthRoutes(app: ZodApp, ctx: ServiceContext) {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['health'],
        security: [],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: the database answers and every migration is applied',
        tags: ['health'],
        security: [],
        response: {
          200: z.object({ status: z.literal('ready'), migrations: z.number() }),
          503: z.object({ status: z.literal('not ready'), reason: z.string() }),
        },
      },
    },
    async (_request, reply) => {
      try {
        const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.+\.sql$/.test(f));
        const applied = new Set(await appliedMigrations(ctx.db));
        const missing = files.filter((f) => !applied.has(Number.parseInt(f, 10)));
        if (missing.length > 0)
          return reply
            .code(503)
            .send({ status: 'not ready' as const, reason: `migrations not applied: ${missing.join(', ')}` });
        return { status: 'ready' as const, migrations: applied.size };
      } catch (error) {
        return reply.code(503).send({
          status: 'not ready' as const,
          reason: `the database does not answer: ${(error as Error).message}`,
        });
      }
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['health'], hide: false } },
    async (_request, reply) => {
      const text = await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(text);
    },
  );

  app.get(
    '/api/status',
    {
      schema: {
        summary: 'Status of everything: healthy, degraded or unhealthy with reasons; counts; recent runs',
        tags: ['status'],
        response: {
          200: z.object({
            status: z.enum(['healthy', 'degraded', 'unhealthy']),
            reasons: z.array(z.string()),
            counts: z.record(z.string(), z.number()),
            queue: z.object({
              kind: z.string(),
              waiting: z.number(),
              running: z.number(),
              later: z.number(),
              oldestWaitSeconds: z.number(),
            }),
            parts: z.object({ scheduler: z.boolean(), worker: z.boolean() }),
            recent: z.array(runSchema),
          }),
          401: apiErrorSchema,
        },
      },
    },
    async () => statusReport(ctx),
  );
}
