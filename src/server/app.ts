import { timingSafeEqual } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { errorHandler, HttpError } from './api-errors.js';
import { registerEtlRoutes } from './routes/etl-routes.js';
import { registerHealthRoutes } from './routes/health-routes.js';
import { registerPipelineRoutes } from './routes/pipeline-routes.js';
import { registerRunRoutes } from './routes/run-routes.js';
import { registerScheduleRoutes } from './routes/schedule-routes.js';
import { registerAdminRoutes } from './routes/admin-routes.js';
import { registerDashboard } from './dashboard.js';
import type { ServiceContext } from './service-context.js';

export type ZodApp = ReturnType<typeof createBase>;

function createBase() {
  return Fastify({ logger: false, bodyLimit: 1024 * 1024 }).withTypeProvider<ZodTypeProvider>();
}

/** Paths anyone may read: liveness, readiness, the API's description and the dashboard's files. */
const OPEN = /^\/(health|ready|docs|web)(\/|$)|^\/$/;

/**
 * The HTTP API: thin routes over the runner and the store, schemas in zod (validation, responses and the
 * OpenAPI description at /docs). Changes need `Authorization: Bearer <SLUICE_API_TOKEN>`; reads too,
 * unless reads are opened.
 */
export async function buildApi(ctx: ServiceContext) {
  const app = createBase();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(ctx.logger));
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    }),
  );
  app.addHook('onRequest', async (request, reply) => authorize(ctx, request, reply));
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Sluice API',
        description:
          'Pipelines, runs, schedules and the run queue of a Sluice service. Changes need `Authorization: Bearer <SLUICE_API_TOKEN>`.',
        version: '1',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  registerHealthRoutes(app, ctx);
  registerPipelineRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  registerScheduleRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerEtlRoutes(app, ctx);
  registerDashboard(app);
  await app.ready();
  return app;
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function authorize(ctx: ServiceContext, request: FastifyRequest, _reply: FastifyReply) {
  const path = request.url.split('?')[0]!;
  if (OPEN.test(path)) return;
  const reading = request.method === 'GET' || request.method === 'HEAD';
  if (reading && ctx.openReads) return;
  if (!reading && ctx.etl?.openRefresh && /^\/api\/v1\/etl\/(refresh|cleanup)(\/|$)/.test(path)) return;
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!ctx.token)
    throw new HttpError(
      401,
      'UNAUTHORIZED',
      `${reading ? 'reads' : 'changes'} need a token, and this service has none`,
      {
        hint: reading
          ? 'Start the service with SLUICE_API_TOKEN set (or SLUICE_API_OPEN_READS=1 to open reads).'
          : 'Start the service with SLUICE_API_TOKEN set, and send it as Authorization: Bearer <token>.',
      },
    );
  if (!match) throw new HttpError(401, 'UNAUTHORIZED', 'send the token as Authorization: Bearer <token>');
  if (!sameToken(match[1]!, ctx.token))
    throw new HttpError(403, 'FORBIDDEN', "the token is not this service's");
}
