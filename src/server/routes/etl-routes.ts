import { z } from 'zod';
import type { PipelineSpec } from '../../core/spec.js';
import { HttpError, notFound } from '../api-errors.js';
import type { ZodApp } from '../app.js';
import { errorResponses } from '../api-schemas.js';
import { enqueue } from '../enqueue.js';
import type { ServiceContext } from '../service-context.js';
import { pipelineViews, statusReport, type PipelineView } from '../views.js';
import { cleanup, cleanupResponse } from './admin-routes.js';

// Seed 004's routes, as its README documents them (snake_case, as its frontend sends and reads them),
// mapped onto pipelines: its "tables" are the pipelines of the group `etl.tables` of the service file,
// each named by the part of its name after the last dot (`pulso.dashboard_data` is `dashboard_data`).

/** The table name of a pipeline. */
export const tableName = (pipeline: string) => pipeline.slice(pipeline.lastIndexOf('.') + 1);

const tableStatus = z.object({
  table_name: z.string(),
  pipeline: z.string(),
  status: z.string().describe('succeeded, failed, running, stopped, interrupted, or never.'),
  last_extraction: z.string().nullable().describe('When the latest run started.'),
  last_success: z.string().nullable(),
  next_run: z.string().nullable(),
  records_loaded: z.number(),
  records_rejected: z.number(),
  duration_seconds: z.number().nullable(),
  error_message: z.string().nullable(),
  run_id: z.string().nullable(),
});

const accepted = z.object({
  status: z.literal('accepted'),
  request_id: z.string(),
  job_id: z.string(),
  tables: z.array(z.string()),
  force: z.boolean(),
  max_concurrent: z.number(),
});

export function registerEtlRoutes(app: ZodApp, ctx: ServiceContext) {
  const config = () => {
    if (!ctx.etl)
      throw new HttpError(404, 'NOT_FOUND', 'the /api/v1/etl routes are not configured', {
        hint: 'Add `etl: { tables: GROUP }` to the service file (docs/service.md).',
      });
    return ctx.etl;
  };
  const tables = () => {
    const specs = ctx.catalog.group(config().tables);
    return new Map(specs.map((s) => [tableName(s.name), s]));
  };
  const tableOr404 = (name: string) => {
    const spec = tables().get(name);
    if (!spec) throw notFound(`no table named "${name}"; tables: ${[...tables().keys()].join(', ')}`);
    return spec;
  };
  const statusOf = (view: PipelineView, lastSuccess: string | null) => ({
    table_name: tableName(view.name),
    pipeline: view.name,
    status: view.status,
    last_extraction: view.lastRun?.startedAt ?? null,
    last_success: lastSuccess,
    next_run: view.nextRun,
    records_loaded: view.lastRun?.rowsLoaded ?? 0,
    records_rejected: view.lastRun?.rowsRejected ?? 0,
    duration_seconds: view.lastRun?.durationMs == null ? null : view.lastRun.durationMs / 1000,
    error_message: view.lastRun?.error ?? null,
    run_id: view.lastRun?.id ?? null,
  });
  const views = async () => {
    const names = new Set([...tables().values()].map((s) => s.name));
    const all = (await pipelineViews(ctx, 20)).filter((v) => names.has(v.name));
    return all.map((v) => statusOf(v, v.recent.find((r) => r.status === 'succeeded')?.startedAt ?? null));
  };

  app.post(
    '/api/v1/etl/refresh/dashboard',
    {
      schema: {
        summary: 'Seed 004: refresh the dashboard tables (the group etl.dashboard), or the tables listed',
        tags: ['seed 004'],
        body: z
          .strictObject({
            force: z.boolean().default(false),
            tables: z.array(z.string().min(1)).min(1).optional(),
            max_concurrent: z.number().int().min(1).max(64).default(2),
          })
          .default({ force: false, max_concurrent: 2 }),
        response: { 202: accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const etl = config();
      const { force, max_concurrent } = request.body;
      const byTable = tables();
      let pipelines: PipelineSpec[];
      if (request.body.tables) {
        const unknown = request.body.tables.findIndex((t) => !byTable.has(t));
        if (unknown >= 0)
          throw new HttpError(
            400,
            'BAD_REQUEST',
            `body.tables[${unknown}]: no table named "${request.body.tables[unknown]}"`,
            {
              field: `body.tables[${unknown}]`,
              hint: `Tables: ${[...byTable.keys()].join(', ')}.`,
            },
          );
        pipelines = request.body.tables.map((t) => byTable.get(t)!);
      } else pipelines = ctx.catalog.group(etl.dashboard ?? etl.tables);
      const job = await enqueue(
        ctx,
        {
          kind: 'group',
          options: { pipelines: pipelines.map((p) => p.name), force, maxConcurrent: max_concurrent },
        },
        { targetIn: 'body' },
      );
      return reply.code(202).send({
        status: 'accepted' as const,
        request_id: job.requestId,
        job_id: job.jobId,
        tables: pipelines.map((p) => tableName(p.name)),
        force,
        max_concurrent,
      });
    },
  );

  app.post(
    '/api/v1/etl/refresh/table/:table_name',
    {
      schema: {
        summary: 'Seed 004: refresh one table',
        tags: ['seed 004'],
        params: z.object({ table_name: z.string().min(1) }),
        querystring: z.strictObject({
          force: z
            .enum(['true', 'false'])
            .default('false')
            .describe('true: run even inside the refresh window.'),
        }),
        response: { 202: accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const spec = tableOr404(request.params.table_name);
      const force = request.query.force === 'true';
      const job = await enqueue(
        ctx,
        { kind: 'pipeline', target: spec.name, options: { force } },
        { targetIn: 'params' },
      );
      return reply.code(202).send({
        status: 'accepted' as const,
        request_id: job.requestId,
        job_id: job.jobId,
        tables: [request.params.table_name],
        force,
        max_concurrent: 1,
      });
    },
  );

  app.get(
    '/api/v1/etl/status',
    {
      schema: {
        summary: 'Seed 004: status of every table, and of the service',
        tags: ['seed 004'],
        response: {
          200: z.object({
            status: z.enum(['healthy', 'degraded', 'unhealthy']),
            reasons: z.array(z.string()),
            tables: z.array(tableStatus),
            running: z.array(z.string()),
            failed_extractions: z.array(
              z.object({ table_name: z.string(), error_message: z.string().nullable() }),
            ),
            timestamp: z.string(),
          }),
          ...errorResponses,
        },
      },
    },
    async () => {
      config();
      const [report, tableViews] = await Promise.all([statusReport(ctx), views()]);
      return {
        status: report.status,
        reasons: report.reasons,
        tables: tableViews,
        running: tableViews.filter((t) => t.status === 'running').map((t) => t.table_name),
        failed_extractions: tableViews
          .filter((t) => t.status === 'failed' || t.status === 'interrupted')
          .map((t) => ({ table_name: t.table_name, error_message: t.error_message })),
        timestamp: new Date().toISOString(),
      };
    },
  );

  app.get(
    '/api/v1/etl/status/table/:table_name',
    {
      schema: {
        summary: 'Seed 004: status of one table (404 when unknown)',
        tags: ['seed 004'],
        params: z.object({ table_name: z.string().min(1) }),
        response: { 200: tableStatus, ...errorResponses },
      },
    },
    async (request) => {
      const spec = tableOr404(request.params.table_name);
      return (await views()).find((v) => v.pipeline === spec.name)!;
    },
  );

  app.get(
    '/api/v1/etl/health',
    {
      schema: {
        summary: 'Seed 004: health for external monitoring',
        tags: ['seed 004'],
        response: {
          200: z.object({
            status: z.enum(['healthy', 'degraded', 'unhealthy']),
            reasons: z.array(z.string()),
            database: z.string(),
            timestamp: z.string(),
          }),
          ...errorResponses,
        },
      },
    },
    async () => {
      config();
      const report = await statusReport(ctx);
      return {
        status: report.status,
        reasons: report.reasons,
        database: 'ok',
        timestamp: new Date().toISOString(),
      };
    },
  );

  app.post(
    '/api/v1/etl/cleanup',
    {
      schema: {
        summary: 'Seed 004: clean up stale extractions (runs whose heartbeat stopped)',
        tags: ['seed 004'],
        response: { 200: cleanupResponse, ...errorResponses },
      },
    },
    async () => {
      config();
      return cleanup(ctx, false);
    },
  );

  app.get(
    '/api/v1/etl/config/tables',
    {
      schema: {
        summary: 'Seed 004: the configured tables',
        tags: ['seed 004'],
        response: {
          200: z.object({
            tables: z.array(
              z.object({
                table_name: z.string(),
                pipeline: z.string(),
                groups: z.array(z.string()),
                primary_key: z.array(z.string()).nullable(),
                incremental_column: z.string().nullable(),
                mode: z.string().nullable(),
                lookback: z.string().nullable(),
                batch_size: z.number().nullable(),
                refresh_frequency_hours: z.number().nullable(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ({
      tables: [...tables()].map(([name, spec]) => {
        const o = (spec.source.options ?? {}) as Record<string, unknown>;
        const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? `${v}ms` : null);
        return {
          table_name: name,
          pipeline: spec.name,
          groups: spec.groups,
          primary_key: Array.isArray(o.primaryKey) ? o.primaryKey.map(String) : null,
          incremental_column: typeof o.incrementalColumn === 'string' ? o.incrementalColumn : null,
          mode: typeof o.mode === 'string' ? o.mode : null,
          lookback: text(o.lookback),
          batch_size: typeof o.batchSize === 'number' ? o.batchSize : null,
          refresh_frequency_hours: spec.run.refreshEveryMs ? spec.run.refreshEveryMs / 3_600_000 : null,
        };
      }),
    }),
  );
}
