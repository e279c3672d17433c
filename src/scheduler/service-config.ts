import { z } from 'zod';
import { loadConfig, type Env } from '../core/config-file.js';
import { SluiceError } from '../core/errors.js';
import { pathOption } from '../core/path-option.js';
import { scheduleSchema, type ScheduleSpec } from './schedule-spec.js';
import { readConfigText } from '../core/config-text.js';

/** The ETL dashboard API (`/api/v1/etl`, for dashboards written against it), mapped onto groups of pipelines. */
export const etlApiSchema = z
  .strictObject({
    tables: z
      .string()
      .min(1)
      .describe(
        'The group whose pipelines are the "tables" (named by the part of the name after its last dot).',
      ),
    dashboard: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The group `POST /api/v1/etl/refresh/dashboard` runs when no tables are given (default: tables).',
      ),
    openRefresh: z
      .boolean()
      .default(false)
      .describe(
        'Let the /api/v1/etl refresh and cleanup routes run without the token (a trusted network only).',
      ),
  })
  .describe('The /api/v1/etl routes of the ETL dashboard API, mapped onto groups of pipelines.');

export type EtlApiConfig = z.output<typeof etlApiSchema>;

/** A service file: the pipelines it serves, its schedules, and the /api/v1/etl mapping. */
export const serviceFileSchema = z.strictObject({
  pipelines: z
    .array(pathOption().describe('A pipeline file, or a folder of them.'))
    .default([])
    .describe("Pipeline files and folders, relative to this file's folder."),
  schedules: z.array(scheduleSchema).default([]).describe('Schedules, saved into sluice.schedules at start.'),
  etl: etlApiSchema.optional(),
});

export type ServiceFile = z.output<typeof serviceFileSchema> & { file: string };

/** Reads a service file (`sluice serve service.yaml`), every problem reported with its line. */
export async function readServiceFile(file: string, env: Env = process.env): Promise<ServiceFile> {
  const text = await readConfigText(file);
  const loaded = loadConfig(text, serviceFileSchema, { file, env, what: 'the service file is invalid' });
  const names = new Set<string>();
  for (const s of loaded.value.schedules) {
    if (names.has(s.name))
      throw new SluiceError('CONFIG_INVALID', `two schedules are named ${s.name}`, { where: file });
    names.add(s.name);
  }
  return { ...loaded.value, file };
}

/** The schedules of a YAML file holding only `schedules:` (or a service file). */
export async function readSchedulesFile(file: string, env: Env = process.env): Promise<ScheduleSpec[]> {
  return (await readServiceFile(file, env)).schedules;
}
