import { Readable } from 'node:stream';
import { z } from 'zod';
import {
  countRejects,
  getRunView,
  listRunViews,
  rejectPage,
  runFileViews,
  runLogPage,
  type RejectFilter,
  type RejectView,
} from '../../store/service-views.js';
import { notFound } from '../api-errors.js';
import type { ZodApp } from '../app.js';
import { errorResponses, runSchema } from '../api-schemas.js';
import type { ServiceContext } from '../service-context.js';

const idParams = z.object({ id: z.string().min(1).describe('A run id.') });
const rejectFilter = {
  file: z.string().optional().describe('Only the rejects of this file.'),
  line: z.coerce.number().int().min(0).optional().describe('Only the rejects of this line.'),
  rule: z.string().optional().describe('Only the rejects of this rule (email, required, layout…).'),
};

const rejectSchema = z.object({
  id: z.string(),
  file: z.string(),
  line: z.number().nullable(),
  column: z.string().nullable(),
  rule: z.string(),
  value: z.string().nullable(),
  message: z.string(),
  raw: z.string().nullable(),
});

export function registerRunRoutes(app: ZodApp, ctx: ServiceContext) {
  const runOr404 = async (id: string) => {
    const run = await getRunView(ctx.db, id);
    if (!run) throw notFound(`no run ${id}`);
    return run;
  };

  app.get(
    '/api/runs',
    {
      schema: {
        summary: 'Runs, newest first; page with `before` (the startedAt of the last run of a page)',
        tags: ['runs'],
        querystring: z.strictObject({
          pipeline: z.string().optional(),
          status: z.enum(['running', 'succeeded', 'failed', 'interrupted', 'stopped']).optional(),
          before: z.iso
            .datetime({ offset: true, local: true })
            .optional()
            .describe('Runs started before this time.'),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
        response: {
          200: z.object({ runs: z.array(runSchema), next: z.string().nullable() }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const runs = await listRunViews(ctx.db, {
        limit: q.limit,
        ...(q.pipeline ? { pipeline: q.pipeline } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.before ? { before: q.before } : {}),
      });
      return { runs, next: runs.length === q.limit ? runs[runs.length - 1]!.startedAt : null };
    },
  );

  app.get(
    '/api/runs/:id',
    {
      schema: {
        summary: 'One run: counts, step timings, and its files with their ledger status',
        tags: ['runs'],
        params: idParams,
        response: {
          200: runSchema.extend({
            steps: z.array(z.object({ step: z.string(), ms: z.number() })),
            files: z.array(
              z.object({
                id: z.string(),
                name: z.string(),
                source: z.string(),
                size: z.number(),
                sha256: z.string(),
                status: z.string(),
                reason: z.string().nullable(),
                rowsRead: z.number(),
                rowsLoaded: z.number(),
                rowsRejected: z.number(),
                duplicateOf: z.string().nullable(),
                recordedAt: z.string(),
                archivedTo: z.string().nullable(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const run = await runOr404(request.params.id);
      const files = await runFileViews(ctx.db, run.id);
      const steps = Object.entries(run.timings).map(([step, ms]) => ({ step, ms: Number(ms) }));
      return { ...run, steps, files };
    },
  );

  app.get(
    '/api/runs/:id/log',
    {
      schema: {
        summary: "A run's step log, in order; page with `after` (the id of the last entry of a page)",
        tags: ['runs'],
        params: idParams,
        querystring: z.strictObject({
          after: z.string().regex(/^\d+$/, 'an entry id').optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(200),
        }),
        response: {
          200: z.object({
            entries: z.array(
              z.object({
                id: z.string(),
                loggedAt: z.string(),
                level: z.string(),
                step: z.number().nullable(),
                stepMs: z.number().nullable(),
                totalMs: z.number().nullable(),
                message: z.string(),
                data: z.record(z.string(), z.unknown()).nullable(),
              }),
            ),
            next: z.string().nullable(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const run = await runOr404(request.params.id);
      const entries = await runLogPage(ctx.db, run.id, {
        limit: request.query.limit,
        ...(request.query.after ? { after: request.query.after } : {}),
      });
      return {
        entries,
        next: entries.length === request.query.limit ? entries[entries.length - 1]!.id : null,
      };
    },
  );

  app.get(
    '/api/runs/:id/rejects',
    {
      schema: {
        summary: "A run's rejected rows, filtered by file, line and rule; page with `after`",
        tags: ['runs'],
        params: idParams,
        querystring: z.strictObject({
          ...rejectFilter,
          after: z.string().regex(/^\d+$/, 'a reject id').optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({ total: z.number(), rejects: z.array(rejectSchema), next: z.string().nullable() }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const run = await runOr404(request.params.id);
      const { after, limit, ...filter } = request.query;
      const f = definedFilter(filter);
      const [total, rejects] = await Promise.all([
        countRejects(ctx.db, run.id, f),
        rejectPage(ctx.db, run.id, { ...f, limit, ...(after ? { after } : {}) }),
      ]);
      return { total, rejects, next: rejects.length === limit ? rejects[rejects.length - 1]!.id : null };
    },
  );

  app.get(
    '/api/runs/:id/rejects.csv',
    {
      schema: {
        summary: "A run's rejected rows as CSV (the same filters), streamed page by page",
        tags: ['runs'],
        params: idParams,
        querystring: z.strictObject(rejectFilter),
      },
    },
    async (request, reply) => {
      const run = await runOr404(request.params.id);
      const filter = definedFilter(request.query);
      async function* csv() {
        yield 'file,line,column,rule,value,message,raw\r\n';
        let after = '0';
        for (;;) {
          const page = await rejectPage(ctx.db, run.id, { ...filter, after, limit: 1000 });
          if (page.length === 0) return;
          yield page.map(csvRecord).join('');
          if (page.length < 1000) return;
          after = page[page.length - 1]!.id;
        }
      }
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="rejects-${run.id}.csv"`)
        .send(Readable.from(csv()));
    },
  );

  app.get(
    '/api/runs/:id/progress',
    {
      schema: {
        summary: 'Progress of a run: rows so far and rows per second (poll it while the run is running)',
        tags: ['runs'],
        params: idParams,
        response: {
          200: z.object({
            runId: z.string(),
            pipeline: z.string(),
            status: z.string(),
            live: z.boolean().describe('Counted as rows go (this process runs it), not per committed file.'),
            file: z.string().nullable(),
            filesSeen: z.number().nullable(),
            filesTotal: z.number().nullable(),
            rowsRead: z.number(),
            rowsLoaded: z.number(),
            rowsRejected: z.number(),
            elapsedSeconds: z.number(),
            rowsPerSecond: z.number(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const run = await runOr404(request.params.id);
      const live = run.status === 'running' ? ctx.live.get(run.pipeline) : undefined;
      const elapsed = (run.durationMs ?? 0) / 1000;
      const rows = live ?? run;
      return {
        runId: run.id,
        pipeline: run.pipeline,
        status: run.status,
        live: live !== undefined,
        file: live?.file ?? null,
        filesSeen: live?.filesSeen ?? null,
        filesTotal: live?.filesTotal ?? null,
        rowsRead: rows.rowsRead,
        rowsLoaded: rows.rowsLoaded,
        rowsRejected: rows.rowsRejected,
        elapsedSeconds: Math.round(elapsed * 10) / 10,
        rowsPerSecond: elapsed > 0 ? Math.round(rows.rowsRead / elapsed) : 0,
      };
    },
  );
}

function definedFilter(q: {
  file?: string | undefined;
  line?: number | undefined;
  rule?: string | undefined;
}): RejectFilter {
  return {
    ...(q.file !== undefined ? { file: q.file } : {}),
    ...(q.line !== undefined ? { line: q.line } : {}),
    ...(q.rule !== undefined ? { rule: q.rule } : {}),
  };
}

function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) || /^[=+\-@]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRecord(r: RejectView): string {
  return [r.file, r.line, r.column, r.rule, r.value, r.message, r.raw].map(csvField).join(',') + '\r\n';
}
