import { z } from 'zod';
import { checkJob } from '../../scheduler/job-kinds.js';
import { scheduleSchema, schedulePatchSchema, type ScheduleSpec } from '../../scheduler/schedule-spec.js';
import {
  deleteSchedule,
  getSchedule,
  listSchedules,
  listTicks,
  saveSchedule,
  setScheduleEnabled,
  updateSchedule,
  type ScheduleRow,
} from '../../store/schedules.js';
import { badInput, HttpError, notFound } from '../api-errors.js';
import type { ZodApp } from '../app.js';
import { errorResponses, scheduleViewSchema } from '../api-schemas.js';
import type { ServiceContext } from '../service-context.js';
import { nextOf } from '../views.js';

const nameParams = z.object({ name: z.string().min(1).describe('A schedule name.') });

function view(row: ScheduleRow) {
  return { ...row, nextRun: nextOf([row]) };
}

/** A 400 when the schedule's kind, target or options do not check (unknown pipeline, bad option). */
export function assertRunnable(ctx: ServiceContext, s: Pick<ScheduleSpec, 'kind' | 'target' | 'options'>) {
  const checked = checkJob(ctx.catalog, s);
  if (checked.problems.length > 0)
    throw badInput(checked.problems.map((p) => ({ field: `body.${p.field}`, message: p.message })));
}

export function registerScheduleRoutes(app: ZodApp, ctx: ServiceContext) {
  const rowOr404 = async (name: string) => {
    const row = await getSchedule(ctx.db, name);
    if (!row) throw notFound(`no schedule named "${name}"`);
    return row;
  };

  app.get(
    '/api/schedules',
    {
      schema: {
        summary: 'Every schedule with its next run and its latest tick',
        tags: ['schedules'],
        response: { 200: z.object({ schedules: z.array(scheduleViewSchema) }), ...errorResponses },
      },
    },
    async () => ({ schedules: (await listSchedules(ctx.db)).map(view) }),
  );

  app.get(
    '/api/schedules/:name',
    {
      schema: {
        summary: 'One schedule and its latest ticks (fire time, claim, lag, job)',
        tags: ['schedules'],
        params: nameParams,
        response: {
          200: scheduleViewSchema.extend({
            ticks: z.array(
              z.object({
                fireAt: z.string(),
                claimedAt: z.string(),
                claimedBy: z.string(),
                outcome: z.string(),
                jobId: z.string().nullable(),
                lagSeconds: z.number(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const row = await rowOr404(request.params.name);
      const ticks = (await listTicks(ctx.db, { schedule: row.name, limit: 50 })).map(
        ({ schedule: _s, ...t }) => t,
      );
      return { ...view(row), ticks };
    },
  );

  app.post(
    '/api/schedules',
    {
      schema: {
        summary: 'Add a schedule (409 when the name is taken); effective at the next tick',
        tags: ['schedules'],
        body: scheduleSchema,
        response: { 201: scheduleViewSchema, 409: errorResponses[400], ...errorResponses },
      },
    },
    async (request, reply) => {
      const s = request.body;
      assertRunnable(ctx, s);
      const saved = await saveSchedule(ctx.db, { ...s, target: s.target ?? null });
      if (!saved)
        throw new HttpError(409, 'CONFLICT', `a schedule named "${s.name}" exists; PATCH it instead`);
      return reply.code(201).send(view((await getSchedule(ctx.db, s.name))!));
    },
  );

  app.patch(
    '/api/schedules/:name',
    {
      schema: {
        summary: 'Change a schedule: the fields given replace the stored ones; effective at the next tick',
        tags: ['schedules'],
        params: nameParams,
        body: schedulePatchSchema,
        response: { 200: scheduleViewSchema, ...errorResponses },
      },
    },
    async (request) => {
      const row = await rowOr404(request.params.name);
      const b = request.body;
      const next = {
        name: row.name,
        cron: b.cron ?? row.cron,
        timezone: b.timezone ?? row.timezone,
        kind: b.kind ?? row.kind,
        target: b.target === undefined ? row.target : b.target,
        options: b.options ?? row.options,
        enabled: b.enabled ?? row.enabled,
        catchUp: b.catchUp ?? row.catchUp,
      };
      assertRunnable(ctx, { ...next, target: next.target ?? undefined });
      await updateSchedule(ctx.db, next);
      return view((await getSchedule(ctx.db, row.name))!);
    },
  );

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(
      `/api/schedules/:name/${action}`,
      {
        schema: {
          summary: `${action === 'enable' ? 'Enable' : 'Disable'} a schedule`,
          tags: ['schedules'],
          params: nameParams,
          response: { 200: scheduleViewSchema, ...errorResponses },
        },
      },
      async (request) => {
        if (!(await setScheduleEnabled(ctx.db, request.params.name, enabled)))
          throw notFound(`no schedule named "${request.params.name}"`);
        return view((await getSchedule(ctx.db, request.params.name))!);
      },
    );
  }

  app.delete(
    '/api/schedules/:name',
    {
      schema: {
        summary: 'Delete a schedule and its ticks',
        tags: ['schedules'],
        params: nameParams,
        response: { 200: z.object({ deleted: z.string() }), ...errorResponses },
      },
    },
    async (request) => {
      if (!(await deleteSchedule(ctx.db, request.params.name)))
        throw notFound(`no schedule named "${request.params.name}"`);
      return { deleted: request.params.name };
    },
  );
}
