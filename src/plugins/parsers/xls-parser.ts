import type { Readable } from 'node:stream';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineParser } from '../../core/plugin.js';
import { sheetBatches, sheetCell, sheetOptionFields } from './sheet-common.js';
import { openXlsWorkbook } from './xls-workbook.js';

const options = z.strictObject({
  ...sheetOptionFields,
  maxBytes: z
    .number()
    .int()
    .min(1)
    .default(100 * 1024 * 1024)
    .describe(
      'Largest file accepted, in bytes: a legacy .xls is read whole into memory, so a larger one fails ' +
        'instead. 100 MB by default.',
    ),
});

/** Legacy Excel workbooks (.xls, BIFF), read whole by @e965/xlsx (SheetJS): a BIFF file cannot be streamed. */
export const xlsParser = defineParser({
  name: 'xls',
  summary:
    'Legacy Excel workbooks (.xls, BIFF5/8): one sheet, a header row, cached formula values, real dates.',
  options,
  async *parse(input, opts, context) {
    const bytes = await readAll(input.stream, opts.maxBytes, input.origin);
    const workbook = await openXlsWorkbook(bytes, input.origin, (message) => context.logger.warn(message));
    yield* sheetBatches(workbook, opts, input.origin, context.signal);
  },
  async readCell(input, opts, cell, context) {
    const bytes = await readAll(input.stream, opts.maxBytes, input.origin);
    const workbook = await openXlsWorkbook(bytes, input.origin, (message) => context.logger.warn(message));
    return sheetCell(workbook, opts, input.origin, cell);
  },
});

/** The whole file; refuses one larger than maxBytes before it fills the memory. */
async function readAll(stream: Readable, maxBytes: number, origin: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > maxBytes) {
      stream.destroy();
      throw new SluiceError('PARSE_FAILED', `${origin} is larger than parse.maxBytes (${maxBytes} bytes)`, {
        where: origin,
        hint: 'A legacy .xls is read whole into memory; raise parse.maxBytes if the machine has room for it, or save the file as .xlsx, which is streamed.',
      });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}
