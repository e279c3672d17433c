import { Tokenizer, TokenParser, TokenType, type ParsedTokenInfo } from '@streamparser/json';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineParser, type BatchResult } from '../../core/plugin.js';
import { BatchBuilder } from './batch-builder.js';
import { batchSizeOption } from './layout.js';
import { JsonPathTracker } from '../../connectors/json/json-path-tracker.js';
import { RawNumber, recordCells, toJsonText } from './json-values.js';

const pathSegment = /^[^.*$[\]]+$/;

const options = z.strictObject({
  format: z
    .enum(['json', 'jsonl'])
    .default('json')
    .describe('json: one document; jsonl: JSON Lines (one document per line, also NDJSON).'),
  path: z
    .string()
    .optional()
    .refine((p) => p === undefined || p.split('.').every((s) => pathSegment.test(s)), {
      message: 'a dotted path of property names, such as data.items',
    })
    .describe(
      'Where the records are: the dotted path of an array of objects (data.items). Without it, the ' +
        'document itself is the array (json), or each line is one record (jsonl).',
    ),
  nested: z
    .enum(['json', 'flatten'])
    .default('json')
    .describe(
      'json: a nested object or array becomes one column holding its JSON text; flatten: nested objects ' +
        'become columns named parent.child (arrays stay JSON text).',
    ),
  columns: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      'The columns, in order (flattened names with nested: flatten). Without it, the columns are the keys ' +
        'of the first sampleSize records in order of first appearance.',
    ),
  sampleSize: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(1000)
    .describe('Records read to learn the columns when columns is not given.'),
  unknownKeys: z
    .enum(['reject', 'ignore'])
    .default('reject')
    .describe(
      'A record with a key outside the columns: reject the record (rule unknownKey), or drop the key ' +
        '(one warning per key).',
    ),
  batchSize: batchSizeOption,
});

type JsonOptions = z.output<typeof options>;

/** Records at a JSON path, or JSON Lines, streamed: one record in memory at a time (plus the sample). */
export const jsonParser = defineParser({
  name: 'json',
  summary:
    'JSON (records at a path such as data.items) or JSON Lines, streamed; nested values as JSON text or flattened.',
  options,
  async *parse(input, opts, context) {
    const reader = new JsonRecordReader(opts, input.origin, (key) =>
      context.logger.warn(`${input.origin}: key "${key}" is not among the columns; ignored`, {
        origin: input.origin,
      }),
    );
    for await (const chunk of input.stream as AsyncIterable<Buffer | string>) {
      if (context.signal.aborted) throw new SluiceError('ABORTED', `reading ${input.origin} was aborted`);
      reader.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      yield* reader.take();
    }
    reader.end();
    yield* reader.take();
  },
});

/** Keeps the number as written: a JavaScript number would round 64-bit ids and long decimals. */
class ExactTokenizer extends Tokenizer {
  protected override parseNumber(text: string): number {
    return new RawNumber(text) as unknown as number;
  }
}

/** Container depth at which the records sit: each segment of the path and the array itself. */
function recordDepth(opts: JsonOptions): number {
  const segments = opts.path ? opts.path.split('.').length : 0;
  if (opts.format === 'jsonl') return opts.path ? segments + 1 : 0;
  return segments + 1;
}

/**
 * The records. (Not the array holding them too: a selected container keeps its members until it ends, which
 * would hold the whole file; the array is recognised from the tokens instead.)
 */
function selector(opts: JsonOptions): string {
  const base = opts.path ? `$.${opts.path}` : '$';
  return opts.format === 'jsonl' && !opts.path ? base : `${base}.*`;
}

const VALUE_START = new Set([
  TokenType.LEFT_BRACE,
  TokenType.LEFT_BRACKET,
  TokenType.STRING,
  TokenType.NUMBER,
  TokenType.TRUE,
  TokenType.FALSE,
  TokenType.NULL,
]);

/**
 * Tokens in, records out. Tracks the container depth and the line of every token (from byte offsets, as JSON
 * strings cannot hold a raw line break) so that each record carries the line where it starts.
 */
class JsonRecordReader {
  private readonly tokenizer: Tokenizer;
  private readonly parser: TokenParser;
  private readonly depth: number;
  private readonly batch: BatchBuilder;
  private ready: BatchResult[] = [];

  private level = 0;
  private recordLine = 1;
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;
  private linesBeforeChunk = 0;
  private scanned = 0;
  private linesScanned = 0;
  private nextNewline = -1;

  private names: string[] | undefined;
  private index = new Map<string, number>();
  private sample: { record: unknown; line: number; raw: string }[] = [];
  private readonly warned = new Set<string>();
  private records = 0;
  private readonly tracker: JsonPathTracker;
  private lastOffset = 0;
  private recordStart = 0;
  /** The bytes of the record being read that came in earlier chunks (for its raw text). */
  private earlier: Buffer[] = [];

  constructor(
    private readonly opts: JsonOptions,
    private readonly origin: string,
    private readonly warnIgnored: (key: string) => void,
  ) {
    const separator = opts.format === 'jsonl' ? '\n' : undefined;
    this.tokenizer = new ExactTokenizer(separator === undefined ? {} : { separator });
    this.parser = new TokenParser({
      paths: [selector(opts)],
      keepStack: false,
      ...(separator === undefined ? {} : { separator }),
    });
    this.depth = recordDepth(opts);
    this.tracker = new JsonPathTracker(opts.path);
    this.batch = new BatchBuilder(origin, opts.batchSize);
    if (opts.columns) this.setColumns(opts.columns);
    this.tokenizer.onToken = (token) => this.onToken(token);
    this.tokenizer.onError = (error) => {
      throw this.syntaxError(error);
    };
    this.parser.onError = (error) => {
      throw this.syntaxError(error);
    };
    this.parser.onValue = ({ value, parent }) => {
      if (this.depth > 0 && !Array.isArray(parent)) this.notAnArray(parent);
      this.onRecord(value, this.recordLine, this.rawText(value));
    };
  }

  private notAnArray(found: unknown): never {
    throw new SluiceError(
      'LAYOUT_MISMATCH',
      `expected an array of records at ${this.opts.path ?? 'the top level'}, found ${describe(found)}`,
      { where: `${this.origin}:${this.recordLine}`, hint: 'Point parse.path at the array of records.' },
    );
  }

  take(): BatchResult[] {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }

  write(bytes: Buffer): void {
    this.chunk = bytes;
    this.scanned = 0;
    this.linesScanned = 0;
    this.nextNewline = -1;
    this.tokenizer.write(bytes);
    if (this.level > this.depth) {
      const from = this.earlier.length === 0 ? Math.max(0, this.recordStart - this.chunkStart) : 0;
      this.earlier.push(bytes.subarray(from));
    }
    this.linesBeforeChunk += this.linesScanned + countNewlines(bytes, this.scanned, bytes.length);
    this.chunkStart += bytes.length;
    this.chunk = Buffer.alloc(0);
  }

  end(): void {
    try {
      this.tokenizer.end();
      if (!this.parser.isEnded) this.parser.end();
    } catch (error) {
      throw this.syntaxError(error as Error);
    }
    if (this.opts.format === 'json' && this.chunkStart === 0) {
      throw new SluiceError('FILE_EMPTY', 'the file is empty: expected a JSON document', {
        where: `${this.origin}:1`,
      });
    }
    if (this.opts.path && this.tracker.found === 0 && this.chunkStart > 0) {
      throw new SluiceError('LAYOUT_MISMATCH', `the document has no array at ${this.opts.path}`, {
        where: this.origin,
        hint: 'Check parse.path against the document (a dotted path such as data.items).',
      });
    }
    if (!this.names) this.decideColumns();
    this.flush(true);
  }

  /** The line of a byte offset in the stream; offsets only grow between calls within a chunk. */
  private lineAt(offset: number): number {
    const within = offset - this.chunkStart;
    // A token that began in an earlier chunk: no line break can lie inside a token.
    if (within <= 0) return this.linesBeforeChunk + 1;
    // The next line break is searched once and kept, so a chunk without any costs one search in all.
    while (within > this.scanned) {
      if (this.nextNewline < this.scanned) {
        const p = this.chunk.indexOf(10, this.scanned);
        this.nextNewline = p < 0 ? Infinity : p;
      }
      if (this.nextNewline >= within) {
        this.scanned = within;
        break;
      }
      this.linesScanned++;
      this.scanned = this.nextNewline + 1;
    }
    return this.linesBeforeChunk + this.linesScanned + 1;
  }

  private onToken(token: ParsedTokenInfo): void {
    this.lastOffset = token.offset;
    const found = this.tracker.found;
    this.tracker.see(token);
    if (this.depth > 0 && this.tracker.found > found && this.tracker.foundObject) this.notAnArray({});
    if (this.level === this.depth && VALUE_START.has(token.token)) {
      this.recordLine = this.lineAt(token.offset);
      this.recordStart = token.offset;
      this.earlier = [];
    }
    if (token.token === TokenType.LEFT_BRACE || token.token === TokenType.LEFT_BRACKET) this.level++;
    else if (token.token === TokenType.RIGHT_BRACE || token.token === TokenType.RIGHT_BRACKET) this.level--;
    this.parser.write(token);
  }

  private syntaxError(error: Error): SluiceError {
    if (error instanceof SluiceError) return error;
    const position = /absolute position "(\d+)"/.exec(error.message)?.[1];
    const line = this.lineAt(position === undefined ? this.lastOffset : Number(position));
    return new SluiceError('PARSE_FAILED', `not valid JSON: ${error.message}`, {
      where: `${this.origin}:${line}`,
      cause: error,
    });
  }

  /**
   * The record's text as read: sliced from the chunk when the record lies in it (its last token then is the
   * closing brace or bracket just read), else written out again.
   */
  private rawText(record: unknown): string {
    if (record === null || typeof record !== 'object' || record instanceof RawNumber)
      return toJsonText(record);
    const end = this.lastOffset - this.chunkStart + 1;
    if (this.earlier.length === 0)
      return this.chunk.toString('utf8', this.recordStart - this.chunkStart, end);
    const text = Buffer.concat([...this.earlier, this.chunk.subarray(0, end)]).toString('utf8');
    this.earlier = [];
    return text;
  }

  private onRecord(record: unknown, line: number, raw: string): void {
    this.records++;
    if (this.names) {
      this.addRecord(record, line, raw);
      return;
    }
    this.sample.push({ record, line, raw });
    if (this.sample.length >= this.opts.sampleSize) this.decideColumns();
  }

  /** Columns from the sample: the union of keys in order of first appearance. */
  private decideColumns(): void {
    const names: string[] = [];
    const seen = new Set<string>();
    for (const { record } of this.sample) {
      if (!isObject(record)) continue;
      for (const [key] of recordCells(record, this.opts.nested)) {
        if (!seen.has(key)) {
          seen.add(key);
          names.push(key);
        }
      }
    }
    this.setColumns(names);
    const sample = this.sample;
    this.sample = [];
    for (const { record, line, raw } of sample) this.addRecord(record, line, raw);
  }

  private setColumns(names: string[]): void {
    this.names = names;
    this.index = new Map(names.map((n, i) => [n, i]));
  }

  private addRecord(record: unknown, line: number, raw: string): void {
    if (!isObject(record)) {
      this.reject(line, 'jsonType', `expected an object, found ${describe(record)}`, raw);
      return;
    }
    const cells: (string | null)[] = new Array<string | null>(this.names!.length).fill(null);
    const unknown: string[] = [];
    for (const [key, value] of recordCells(record, this.opts.nested)) {
      const i = this.index.get(key);
      if (i !== undefined) cells[i] = value;
      else if (this.opts.unknownKeys === 'reject') unknown.push(key);
      else if (!this.warned.has(key)) {
        this.warned.add(key);
        this.warnIgnored(key);
      }
    }
    if (unknown.length > 0) {
      this.reject(
        line,
        'unknownKey',
        `keys not among the columns: ${unknown.map((k) => `"${k}"`).join(', ')}`,
        raw,
      );
      return;
    }
    if (this.batch.addRow(cells, line, raw)) this.flush();
  }

  private reject(line: number, rule: string, message: string, raw: string): void {
    if (this.batch.addReject(line, rule, message, raw)) this.flush();
  }

  private flush(last = false): void {
    const result = this.batch.build(this.names ?? [], last);
    if (result) this.ready.push(result);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RawNumber)
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof RawNumber) return 'a number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function countNewlines(bytes: Buffer, from: number, to: number): number {
  let count = 0;
  for (let p = bytes.indexOf(10, from); p >= 0 && p < to; p = bytes.indexOf(10, p + 1)) count++;
  return count;
}
