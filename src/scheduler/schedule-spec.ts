import { Cron } from 'croner';
import { z } from 'zod';
import { isTimeZone } from '../core/report-spec.js';

/**
 * Why a schedule's cron expression is not valid, or undefined. Five fields (minute hour day-of-month month
 * day-of-week) as crontab has them, or six with seconds first: tests and demos tick every few seconds.
 */
export function scheduleCronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6)
    return `a cron schedule has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, not ${fields.length}`;
  try {
    new Cron(expression, { paused: true });
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^CronPattern: /, '');
  }
}

/** The croner job of a schedule (paused: the scheduler asks it for fire times, it never calls back). */
export function cronOf(schedule: { cron: string; timezone: string }): Cron {
  return new Cron(schedule.cron, { paused: true, timezone: schedule.timezone });
}

/** The next fire time after `after`, or null when the expression never fires again. */
export function nextFire(schedule: { cron: string; timezone: string }, after: Date): Date | null {
  return cronOf(schedule).nextRun(after);
}

export const scheduleNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    'letters, digits, ".", "_" and "-", starting with a letter or digit',
  )
  .describe("The schedule's name: unique, used in the API and CLI.");

const cronField = z
  .string()
  .superRefine((v, ctx) => {
    const problem = scheduleCronProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe(
    'Cron expression: "0 6 * * *" (minute hour day-of-month month day-of-week), seconds first when 6 fields.',
  );
const timezoneField = z
  .string()
  .refine(isTimeZone, 'an IANA time zone such as Europe/Madrid or UTC')
  .describe('IANA time zone the expression is read in (default UTC); DST gaps and repeats follow it.');
const kindField = z
  .string()
  .min(1)
  .describe(
    'What it runs: pipeline, group, report, inboxPoll, watchImports, cleanup, command, maintenance, backup (see `sluice schedule kinds`).',
  );
const targetField = z
  .string()
  .min(1)
  .describe('The pipeline, group, report or mail account it runs (per kind; some kinds take none).');
const optionsField = z
  .record(z.string(), z.unknown())
  .describe("The kind's options, such as force or maxConcurrent.");
const enabledField = z.boolean().describe('A disabled schedule does not fire (default true).');
const catchUpField = z
  .enum(['skip', 'once'])
  .describe('After downtime: skip the ticks missed (default), or fire once for all of them.');

/** One schedule, as YAML, the API and the CLI write it (the one spec of `sluice.schedules`). */
export const scheduleSchema = z.strictObject({
  name: scheduleNameSchema,
  cron: cronField,
  timezone: timezoneField.default('UTC'),
  kind: kindField,
  target: targetField.optional(),
  options: optionsField.default({}),
  enabled: enabledField.default(true),
  catchUp: catchUpField.default('skip'),
});

export type ScheduleSpec = z.output<typeof scheduleSchema>;

/** A change of a schedule: the fields given replace the stored ones (`target: null` removes it). */
export const schedulePatchSchema = z.strictObject({
  cron: cronField.optional(),
  timezone: timezoneField.optional(),
  kind: kindField.optional(),
  target: targetField.nullable().optional(),
  options: optionsField.optional(),
  enabled: enabledField.optional(),
  catchUp: catchUpField.optional(),
});

export type SchedulePatch = z.output<typeof schedulePatchSchema>;
