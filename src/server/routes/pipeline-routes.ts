import { z } from 'zod';
import { isIsoDate } from '../../core/dates.js';
import { JOB_KINDS } from '../../scheduler/job-kinds.js';
import { runsOfRequest } from '../../store/service-views.js';
import { notFound } from '../api-errors.js';
import type { ZodApp } from '../app.js';
import { acceptedSchema, apiErrorSchema, errorResponses, pipelineSchema, runSchema } from '../api-schemas.js';
import { enqueue } from '../enqueue.js';
import type { ServiceContext } from '../service-context.js';
import { pipelineViews } from '../views.js';

const nameParams = z.object({ name: z.string().min(1).describe('A pipeline name.') });
const asOf = z
  .string()
  .refine(isIsoDate, 'a date as YYYY-MM-DD')
  .optional()
  .describe('The run date (default today).');
const force = z.boolean().optional().describe('Run even inside the refresh window.');

export const groupRunBody = z.strictObject({
  group: z.string().min(1).optional().describe('Run the pipelines of this group.'),
  pipelines: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('Run these pipelines (of the group, when one is given).'),
  force,
  asOf,
  maxConcurrent: z.number().int().min(1).max(64).optional().describe('Pipelines run at once (default 1).'),
});

export function registerPipelineRoutes(app: ZodApp, ctx: ServiceContext) {
  app.get(
    '/api/pipelines',
    {
      schema: {
        summary:
          'Every pipeline with its groups, status, last run, next run and its latest runs (a sparkline)',
        tags: ['pipelines'],
        querystring: z.strictObject({
          recent: z.coerce
            .number()
            .int()
            .min(1)
            .max(100)
            .default(20)
            .describe('Runs per pipeline in `recent`.'),
          group: z.string().optional().describe('Only the pipelines of this group.'),
        }),
        response: { 200: z.object({ pipelines: z.array(pipelineSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const all = await pipelineViews(ctx, request.query.recent);
      const group = request.query.group;
      return { pipelines: group ? all.filter((p) => p.groups.includes(group)) : all };
    },
  );

  app.get(
    '/api/pipelines/:name',
    {
      schema: {
        summary: 'One pipeline: last run, next run, rows, errors (404 when unknown)',
        tags: ['pipelines'],
        params: nameParams,
        querystring: z.strictObject({ recent: z.coerce.number().int().min(1).max(100).default(20) }),
        response: {
          200: pipelineSchema.extend({
            refreshEvery: z.number().nullable().describe('Milliseconds, or null.'),
            source: z.string().nullable(),
            load: z.string().nullable(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const view = (await pipelineViews(ctx, request.query.recent)).find(
        (p) => p.name === request.params.name,
      );
      if (!view) throw notFound(`no pipeline named "${request.params.name}" is configured or in the ledger`);
      const spec = ctx.catalog.get(view.name);
      return {
        ...view,
        refreshEvery: spec?.run.refreshEveryMs ?? null,
        source: spec?.source.type ?? null,
        load: spec?.load.type ?? null,
      };
    },
  );

  app.post(
    '/api/pipelines/:name/run',
    {
      schema: {
        summary: 'Queue a run of a pipeline; answers at once with the request id',
        tags: ['pipelines'],
        params: nameParams,
        body: z.strictObject({ force, asOf }).default({}),
        response: { 202: acceptedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const accepted = await enqueue(
        ctx,
        { kind: 'pipeline', target: request.params.name, options: { ...request.body } },
        { targetIn: 'params' },
      );
      return reply.code(202).send(accepted);
    },
  );

  app.get(
    '/api/groups',
    {
      schema: {
        summary: 'The groups and their pipelines',
        tags: ['pipelines'],
        response: {
          200: z.object({ groups: z.array(z.object({ name: z.string(), pipelines: z.array(z.string()) })) }),
          401: apiErrorSchema,
        },
      },
    },
    async () => ({
      groups: ctx.catalog
        .groups()
        .map((name) => ({ name, pipelines: ctx.catalog.group(name).map((s) => s.name) })),
    }),
  );

  app.post(
    '/api/groups/run',
    {
      schema: {
        summary: 'Queue a group run: the pipelines of `group`, or those listed in `pipelines`',
        tags: ['pipelines'],
        body: groupRunBody,
        response: { 202: acceptedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { group, ...options } = request.body;
      const accepted = await enqueue(
        ctx,
        { kind: 'group', target: group, options },
        { targetIn: 'body', targetField: 'group' },
      );
      return reply.code(202).send(accepted);
    },
  );

  app.post(
    '/api/groups/:name/run',
    {
      schema: {
        summary: 'Queue a run of the pipelines of a group (404 when no pipeline is in it)',
        tags: ['pipelines'],
        params: z.object({ name: z.string().min(1) }),
        body: groupRunBody.omit({ group: true }).default({}),
        response: { 202: acceptedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const accepted = await enqueue(
        ctx,
        { kind: 'group', target: request.params.name, options: { ...request.body } },
        { targetIn: 'params' },
      );
      return reply.code(202).send(accepted);
    },
  );

  app.get(
    '/api/job-kinds',
    {
      schema: {
        summary: 'What a job or a schedule can run: each kind with its target and options (JSON Schema)',
        tags: ['jobs'],
        response: {
          200: z.object({
            kinds: z.array(
              z.object({ name: z.string(), summary: z.string(), target: z.string(), options: z.unknown() }),
            ),
          }),
          401: apiErrorSchema,
        },
      },
    },
    async () => ({
      kinds: JOB_KINDS.map((k) => ({
        name: k.name,
        summary: k.summary,
        target: k.target,
        options: z.toJSONSchema(k.options, { io: 'input', unrepresentable: 'any' }),
      })),
    }),
  );

  app.post(
    '/api/jobs',
    {
      schema: {
        summary: 'Queue a job of any kind (a report, an inbox poll, an import-folder watch, cleanup…)',
        tags: ['jobs'],
        body: z.strictObject({
          kind: z.string().min(1),
          target: z.string().min(1).optional(),
          options: z.record(z.string(), z.unknown()).default({}),
        }),
        response: { 202: acceptedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const accepted = await enqueue(ctx, request.body, { targetIn: 'body', optionsUnder: true });
      return reply.code(202).send(accepted);
    },
  );

  app.get(
    '/api/requests/:requestId',
    {
      schema: {
        summary: 'The runs a queued request started (none yet while it waits in the queue)',
        tags: ['jobs'],
        params: z.object({ requestId: z.string().min(1) }),
        response: { 200: z.object({ requestId: z.string(), runs: z.array(runSchema) }), ...errorResponses },
      },
    },
    async (request) => ({
      requestId: request.params.requestId,
      runs: await runsOfRequest(ctx.db, request.params.requestId),
    }),
  );
}
