import { z } from 'zod';

// Response schemas of the API (the request schemas come from the specs: schedules, job kinds).

export const apiErrorSchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe('An error code: BAD_REQUEST, NOT_FOUND, UNAUTHORIZED, or a Sluice error code.'),
      message: z.string(),
      field: z.string().optional().describe('The field at fault (`body.force`, `params.name`).'),
      hint: z.string().optional(),
      problems: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .describe('An error; never a stack trace.');

export const runSchema = z.object({
  id: z.string(),
  pipeline: z.string(),
  status: z.string().describe('running, succeeded, failed, interrupted or stopped.'),
  asOf: z.string(),
  dryRun: z.boolean(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  heartbeatAt: z.string(),
  durationMs: z.number().nullable(),
  attempts: z.number(),
  host: z.string().nullable(),
  pid: z.number().nullable(),
  rowsRead: z.number(),
  rowsLoaded: z.number(),
  rowsRejected: z.number(),
  filesLoaded: z.number(),
  filesRejected: z.number(),
  filesSkipped: z.number(),
  unitsLoaded: z.number(),
  timings: z.record(z.string(), z.number()).describe('Milliseconds per step (connect, load, finish…).'),
  errorCode: z.string().nullable(),
  error: z.string().nullable(),
  requestId: z.string().nullable(),
});

export const runPointSchema = runSchema.pick({
  id: true,
  status: true,
  startedAt: true,
  durationMs: true,
  rowsLoaded: true,
  rowsRejected: true,
});

export const pipelineSchema = z.object({
  name: z.string(),
  groups: z.array(z.string()),
  file: z.string().nullable(),
  configured: z.boolean(),
  status: z.string().describe("The latest run's status, or never."),
  lastRun: runSchema.nullable(),
  nextRun: z.string().nullable().describe('Next fire of a schedule that runs it.'),
  schedules: z.array(z.string()),
  recent: z.array(runPointSchema).describe('The latest runs, newest first (a sparkline).'),
});

export const acceptedSchema = z.object({
  requestId: z.string().describe('Runs started for this request carry it: GET /api/requests/{requestId}.'),
  jobId: z.string(),
  kind: z.string(),
  target: z.string().nullable(),
  queue: z.string(),
});

export const scheduleViewSchema = z.object({
  name: z.string(),
  cron: z.string(),
  timezone: z.string(),
  kind: z.string(),
  target: z.string().nullable(),
  options: z.record(z.string(), z.unknown()),
  enabled: z.boolean(),
  catchUp: z.enum(['skip', 'once']),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastFireAt: z.string().nullable(),
  nextRun: z.string().nullable(),
});

export const errorResponses = {
  400: apiErrorSchema,
  401: apiErrorSchema,
  404: apiErrorSchema,
} as const;
