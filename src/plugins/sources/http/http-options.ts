import { z } from 'zod';
import { transportOptions } from '../../../connectors/http/transport-options.js';
import { withRenamedKeys } from '../../../core/renamed-keys.js';

const dottedPath = z
  .string()
  .regex(/^[^.*$[\]]+(\.[^.*$[\]]+)*$/, 'a dotted path of property names, such as meta.next_cursor');

const authSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('bearer'),
    token: z.string().min(1).describe('The token (secret: take it from the environment, ${API_TOKEN}).'),
  }),
  z.strictObject({
    type: z.literal('basic'),
    username: z.string().min(1).describe('User name.'),
    password: z.string().describe('Password (secret: ${API_PASSWORD}).'),
  }),
  z.strictObject({
    type: z.literal('apiKey'),
    name: z.string().min(1).describe('Header or query parameter name, such as X-API-Key or api_key.'),
    value: z.string().min(1).describe('The key (secret: take it from the environment, ${API_KEY}).'),
    in: z.enum(['header', 'query']).default('header').describe('Where the key goes.'),
  }),
]);

export type AuthOptions = z.output<typeof authSchema>;

const pagination = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('page'),
    param: z.string().min(1).default('page').describe('Query parameter of the page number.'),
    start: z.number().int().min(0).default(1).describe('The first page number.'),
    sizeParam: z.string().min(1).optional().describe('Query parameter of the page size, if any.'),
    size: z.number().int().positive().optional().describe('Records per page: a shorter page is the last.'),
  }),
  z.strictObject({
    type: z.literal('offset'),
    param: z.string().min(1).default('offset').describe('Query parameter of the offset.'),
    start: z.number().int().min(0).default(0).describe('The first offset.'),
    limitParam: z.string().min(1).default('limit').describe('Query parameter of the page size.'),
    limit: z.number().int().positive().describe('Records per page: a shorter page is the last.'),
  }),
  z.strictObject({
    type: z.literal('cursor'),
    param: z.string().min(1).default('cursor').describe('Query parameter that carries the cursor.'),
    field: dottedPath.describe('Where the next cursor is in the JSON body (meta.next_cursor); empty ends.'),
  }),
  z
    .strictObject({
      type: z.literal('link'),
    })
    .describe('The next page is the Link header entry with rel="next" (RFC 8288).'),
  z.strictObject({
    type: z.literal('nextUrl'),
    field: dottedPath.describe('Where the next page URL is in the JSON body (links.next); empty ends.'),
  }),
]);

export type PaginationOptions = z.output<typeof pagination>;

export const httpSourceOptions = withRenamedKeys(
  'http',
  z
    .strictObject({
      url: z
        .union([z.string().url(), z.array(z.string().url()).min(1)])
        .describe('The URL, or several (each paginated on its own, up to `concurrency` at once).'),
      method: z.enum(['GET', 'POST']).default('GET').describe('HTTP method.'),
      headers: z.record(z.string(), z.string()).default({}).describe('Request headers.'),
      query: z
        .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
        .default({})
        .describe('Query parameters added to the URL.'),
      body: z
        .union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
        .optional()
        .describe('Request body for POST: text as is, or an object sent as JSON.'),
      auth: authSchema.optional().describe('bearer, basic, or apiKey (in a header or the query).'),
      pagination: pagination.optional().describe('How to get the next page; none by default.'),
      recordsPath: dottedPath
        .optional()
        .describe(
          'Where the records array is in a JSON page (data.items), for page and offset pagination to see ' +
            'the last page; the top-level array when absent.',
        ),
      maxPages: z
        .number()
        .int()
        .positive()
        .default(1000)
        .describe('Most pages read per URL in a run; reaching it is logged as a warning.'),
      rateLimit: z.number().positive().optional().describe('Most requests per second (retries included).'),
      conditional: z
        .boolean()
        .default(true)
        .describe(
          'Keep each response ETag / Last-Modified and send If-None-Match / If-Modified-Since next run: an ' +
            'unchanged resource (304) loads nothing.',
        ),
      fileName: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$/, 'letters, digits, "_", "." or "-"')
        .optional()
        .describe(
          'Base name of the saved pages (orders → orders_p0001.json); the last URL path segment by default.',
        ),
      extension: z
        .string()
        .regex(/^[a-z0-9]{1,8}$/, 'letters and digits, such as json, csv or xlsx')
        .optional()
        .describe('Extension of the saved pages; from the Content-Type by default.'),
      ...transportOptions,
    })
    .refine((o) => o.body === undefined || o.method === 'POST', {
      message: 'a body needs method: POST',
      path: ['body'],
    }),
);

export type HttpSourceOptions = z.output<typeof httpSourceOptions>;
