import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isSluiceError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';

/** The body of every error response: a code from the catalog, what went wrong, and where. */
export interface ApiError {
  error: {
    code: string;
    message: string;
    field?: string;
    hint?: string;
    problems?: { field: string; message: string }[];
  };
}

/** HTTP status of each error code; anything not listed is a 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  CONFIG_INVALID: 400,
  PLUGIN_UNKNOWN: 400,
  CONFIG_NOT_FOUND: 404,
  PIPELINE_RUNNING: 409,
  DATABASE_UNREACHABLE: 503,
  DATABASE_BUSY: 503,
  DATABASE_LOCKED: 503,
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** An error the routes throw to answer with a given status (not found, unauthorized, bad input). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { field?: string; hint?: string; problems?: { field: string; message: string }[] } = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HttpError(404, 'NOT_FOUND', what);

/** A 400 naming each field and what is wrong with it. */
export function badInput(problems: { field: string; message: string }[]): HttpError {
  const first = problems[0]!;
  return new HttpError(400, 'BAD_REQUEST', problems.map((p) => `${p.field}: ${p.message}`).join('; '), {
    field: first.field,
    problems,
  });
}

/** The error handler: codes mapped to statuses, 400s naming the field, never a stack trace. */
export function errorHandler(logger: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'body';
      const problems = error.validation.map((v) => {
        const path = v.instancePath.split('/').filter(Boolean).join('.');
        const keys = v.keyword === 'unrecognized_keys' ? ((v.params.keys as string[] | undefined) ?? []) : [];
        const field = [where, path, ...keys.slice(0, 1)].filter(Boolean).join('.');
        return { field, message: (v.message ?? 'invalid').replace(/^Invalid input: /, '') };
      });
      return reply.code(400).send(toBody(badInput(problems)));
    }
    if (error instanceof HttpError) return reply.code(error.status).send(toBody(error));
    if (isSluiceError(error)) {
      const status = statusOf(error.code);
      if (status >= 500) logger.error(`${request.method} ${request.url}: ${error.code} ${error.message}`);
      return reply.code(status).send({
        error: {
          code: error.code,
          message: error.where ? `${error.where}: ${error.message}` : error.message,
          ...(error.hint ? { hint: error.hint } : {}),
        },
      } satisfies ApiError);
    }
    // Fastify's own errors (a body that is no JSON, too large, an unsupported media type).
    if (typeof error.statusCode === 'number' && error.statusCode < 500)
      return reply
        .code(error.statusCode)
        .send({ error: { code: error.code ?? 'BAD_REQUEST', message: error.message } } satisfies ApiError);
    logger.error(`${request.method} ${request.url}: ${error.stack ?? error.message}`);
    return reply
      .code(500)
      .send({ error: { code: 'INTERNAL', message: 'an unexpected error; see the service log' } });
  };
}

function toBody(error: HttpError): ApiError {
  return { error: { code: error.code, message: error.message, ...error.extra } };
}
