import { z } from 'zod';
import { transportOptions } from '../../../connectors/http/transport-options.js';
import { durationOrZeroSchema } from '../../../core/duration-schema.js';
import { pathOption } from '../../../core/path-option.js';
import { regexProblem } from '../../../core/regex.js';
import { withRenamedKeys } from '../../../core/renamed-keys.js';

/** A page test: a CSS selector that matches something, or a text pattern found in the page's text. */
const pageRule = z
  .strictObject({
    selector: z.string().min(1).optional().describe('A CSS selector; the rule holds when it matches.'),
    text: z
      .string()
      .min(1)
      .superRefine((p, ctx) => {
        const problem = regexProblem(p, 'i');
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe("A regular expression (case-insensitive) searched in the page's visible text."),
  })
  .refine((r) => r.selector !== undefined || r.text !== undefined, { message: 'give a selector or a text' });

export type PageRule = z.output<typeof pageRule>;

const MAX_RANGE = 1_000_000;

export const scanSourceOptions = withRenamedKeys(
  'scan',
  z
    .strictObject({
      urlTemplate: z
        .string()
        .min(1)
        .refine((t) => t.includes('{id}'), 'a URL with {id} where the id goes')
        .refine((t) => /^https?:\/\//i.test(t), 'an http:// or https:// URL')
        .describe('The page of one id, with {id} in it: https://events.example.com/event/{id}.'),
      ids: z
        .union([
          z
            .strictObject({
              from: z.number().int().describe('First id.'),
              to: z.number().int().describe('Last id (included).'),
            })
            .refine((r) => r.to >= r.from, { message: 'to must not be below from', path: ['to'] })
            .refine((r) => r.to - r.from < MAX_RANGE, { message: `at most ${MAX_RANGE} ids`, path: ['to'] }),
          z
            .array(
              z.union([
                z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-"'),
                z.number().int(),
              ]),
            )
            .min(1),
        ])
        .describe('The ids to check: a range { from, to } or a list.'),
      invalid: pageRule
        .optional()
        .describe('Marks a page that does not exist (besides 404/410), such as an "event not found" text.'),
      private: pageRule
        .optional()
        .describe('Marks a private page, such as a login form or a "private event" text.'),
      download: z
        .strictObject({
          selector: z
            .string()
            .min(1)
            .describe('CSS selector of the link or button to the file (a.download).'),
          attribute: z
            .string()
            .min(1)
            .default('href')
            .describe('Attribute holding the file URL (href, data-url…); relative URLs are resolved.'),
        })
        .optional()
        .describe('Where a page offers a file to download.'),
      downloadTo: pathOption()
        .optional()
        .describe(
          'Folder (an inbox) where the files found are downloaded; nothing is downloaded without it. A file ' +
            'whose ETag or size has not changed since it was last fetched is not fetched again.',
        ),
      fileName: z
        .string()
        .min(1)
        .default('{id}_{name}')
        .refine((t) => t.includes('{name}') || t.includes('{id}'), 'use {id} and/or {name}')
        .describe("Name of a downloaded file: {id} is the page's id, {name} the server's file name."),
      csv: z
        .strictObject({
          dir: pathOption().describe('Folder of the CSV report.'),
          name: z
            .string()
            .regex(/\.csv$/, 'a name ending in .csv')
            .default('{timestamp}_scan.csv')
            .describe('File name; {timestamp} is the scan start as yyyyMMdd_HHmmss (local time).'),
        })
        .optional()
        .describe('Also write the results as a CSV file.'),
      delay: durationOrZeroSchema
        .prefault('1s')
        .describe('Least time between the starts of two requests (politeness): one per second by default.'),
      maxPageBytes: z
        .number()
        .int()
        .positive()
        .default(5_000_000)
        .describe('Longest page read; a longer one is recorded as an error.'),
      batchSize: z.number().int().min(1).max(10_000).default(100).describe('Result rows per batch.'),
      ...transportOptions,
    })
    .describe('Checks a range of pages and downloads the files they offer.'),
);

export type ScanOptions = z.output<typeof scanSourceOptions>;
