import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { defineParser, type BatchResult, type ParseInput, type PluginContext } from '../../core/plugin.js';
import { BatchBuilder } from './batch-builder.js';
import {
  cellText,
  compileExpected,
  expectHeaderOption,
  headerProblem,
  type ExpectedColumn,
  batchSizeOption,
} from './layout.js';

const oneCharacter = z.string().refine((c) => c !== '\n' && c !== '\r', 'a line break cannot be used here');

const options = z.strictObject({
  delimiter: oneCharacter
    .length(1)
    .default(',')
    .describe('Field separator: one character, such as ",", ";", "|" or "\\t".'),
  quote: oneCharacter
    .max(1)
    .default('"')
    .describe(
      'Quote character; a doubled quote inside a quoted field is a literal quote. Empty turns quoting off.',
    ),
  header: z.boolean().default(true).describe('The first line holds the column names.'),
  expectHeader: expectHeaderOption,
  columns: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('Column names of a file without a header line (header: false); column_1, column_2… otherwise.'),
  encoding: z
    .string()
    .refine(
      (name) => isUtf8(name) || iconvLite().encodingExists(name),
      'an encoding iconv-lite knows, such as utf-8, latin1 or windows-1252',
    )
    .default('utf-8')
    .describe(
      'Character encoding of the file (utf-8, latin1, windows-1252, …). A leading UTF-8 BOM is dropped.',
    ),
  skipBlankLines: z.boolean().default(true).describe('Lines that are empty or hold only spaces are skipped.'),
  batchSize: batchSizeOption,
  maxFieldSize: z
    .number()
    .int()
    .min(1_000)
    .default(1_000_000)
    .describe(
      'Longest field, in characters: a row with a longer one is rejected (rule fieldSize) without being ' +
        'held in memory, and reading goes on after it.',
    ),
  maxRecordLength: z
    .number()
    .int()
    .min(1_000)
    .default(10_000_000)
    .describe(
      'Longest record, in characters: a longer one is rejected (rule recordLength) without being held in ' +
        'memory, and reading goes on after it.',
    ),
});

type CsvOptions = z.output<typeof options>;

/** CSV and other delimited text files, streamed in batches. */
export const csvParser = defineParser({
  name: 'csv',
  summary: 'Delimited text (CSV, TSV, …) with quotes, any encoding, an optional header check.',
  options,
  parse: parseCsv,
  async readCell(input, opts, cell, context) {
    // Every line as data, blank ones included, so that line numbers are the file's.
    const raw = {
      ...opts,
      header: false,
      expectHeader: undefined,
      columns: undefined,
      skipBlankLines: false,
    };
    for await (const { batch } of parseCsv(input, raw, context)) {
      for (let i = 0; i < batch.lines.length; i++) {
        const line = batch.lines[i]!;
        if (line === cell.row) return cellText(batch.rows[i]?.[cell.column - 1]);
        if (line > cell.row) return undefined;
      }
    }
    return undefined;
  },
});

/** Separators a file read with another one most often has: a header of one column holding one is a hint. */
const OTHER_DELIMITERS = [';', '\t', '|', ','];

/** The rows of a delimited text file, decoded chunk by chunk as it arrives. */
async function* parseCsv(
  input: ParseInput,
  opts: CsvOptions,
  context: PluginContext,
): AsyncGenerator<BatchResult> {
  const reader = new CsvReader(opts, input.origin, (message, line) =>
    context.logger.warn(message, { origin: input.origin, line }),
  );
  let warned = !isUtf8(opts.encoding);
  for await (const text of decode(input.stream, opts.encoding, input.origin)) {
    if (context.signal.aborted) throw new SluiceError('ABORTED', `reading ${input.origin} was aborted`);
    // Bytes that are not UTF-8 decode as U+FFFD instead of failing: usually the encoding option is wrong.
    const bad = warned ? -1 : text.indexOf('\uFFFD');
    if (bad >= 0) {
      warned = true;
      const line = reader.lineAt(text, bad);
      context.logger.warn(
        `${input.origin}:${line} has bytes that are not valid UTF-8 (read as "\uFFFD"); the file is ` +
          'probably in another encoding: set encoding: latin1 (or windows-1252) in its parse options',
        { origin: input.origin, line },
      );
    }
    reader.push(text, false);
    yield* reader.take();
  }
  reader.push('', true);
  yield* reader.take();
}

const requireHere = createRequire(import.meta.url);

/**
 * iconv-lite, required the first time a file or an option is not UTF-8: its code pages were 550 KB of the
 * bundle's plugins chunk, which every command that reads pipelines loads (scripts/bundle-cli.mjs leaves the
 * package out).
 */
function iconvLite(): typeof import('iconv-lite') {
  return requireHere('iconv-lite') as typeof import('iconv-lite');
}

function isUtf8(encoding: string): boolean {
  return /^utf-?8$/i.test(encoding);
}

/** A UTF-16 byte-order mark, which a file read as UTF-8 must not start with. */
function utf16Mark(chunk: Buffer): string | undefined {
  if (chunk.length < 2) return undefined;
  if (chunk[0] === 0xff && chunk[1] === 0xfe) return 'utf-16le';
  if (chunk[0] === 0xfe && chunk[1] === 0xff) return 'utf-16be';
  return undefined;
}

/**
 * Bytes decoded at a time. V8 puts a string over 128 KB in its large-object space, which maps fresh pages
 * for each one: decoding 256 KB reads piece by piece cost 5x the CPU of 64 KB pieces (bench/README).
 */
const DECODE_PIECE = 1 << 16;

/** The file's text, chunk by chunk as it arrives. */
async function* decode(stream: Readable, encoding: string, origin: string): AsyncGenerator<string> {
  const utf8 = isUtf8(encoding);
  if (!utf8 && !iconvLite().encodingExists(encoding))
    throw new SluiceError('CONFIG_INVALID', `unknown encoding "${encoding}"`);
  // iconv-lite's decoder drops a leading BOM as its decodeStream does; the reader drops UTF-8's.
  const decoder: { write(bytes: Buffer): string; end(): string | undefined } = utf8
    ? new StringDecoder('utf8')
    : iconvLite().getDecoder(encoding);
  let first = true;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    if (typeof chunk === 'string') {
      if (chunk.length > 0) yield chunk;
      continue;
    }
    if (first) {
      first = false;
      const mark = utf8 ? utf16Mark(chunk) : undefined;
      if (mark !== undefined) {
        stream.destroy();
        throw new SluiceError(
          'PARSE_FAILED',
          // The way out is in the message itself: a rejected file's ledger entry keeps only the message.
          `the file is ${mark.toUpperCase()} (it starts with its byte-order mark), not UTF-8: set encoding: ${mark} in its parse options`,
          { where: `${origin}:1` },
        );
      }
    }
    for (let at = 0; at < chunk.length; at += DECODE_PIECE) {
      const text = decoder.write(chunk.subarray(at, at + DECODE_PIECE));
      if (text.length > 0) yield text;
    }
  }
  const tail = decoder.end() ?? '';
  if (tail.length > 0) yield tail;
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;

/**
 * The CSV state machine. `push` takes decoded text as it comes; complete records become rows of the
 * current batch, and an unfinished record waits in `carry` for the next chunk.
 */
class CsvReader {
  private readonly delimiter: string;
  private readonly delimiterCode: number;
  private readonly quote: string;
  /** -1 when quoting is off, so that no character code equals it. */
  private readonly quoteCode: number;
  private readonly expected: ExpectedColumn[] | undefined;

  private carry = '';
  private started = false;
  /** The last chunk ended with a CR that ended a record: a LF starting the next chunk belongs to it. */
  private skipLF = false;
  /** The physical line where the next record starts. */
  private line = 1;
  private names: string[] | undefined;
  private width = 0;
  /** Position of the next delimiter in the buffer being scanned (see takeLine). */
  private nextDelimiter = -1;
  /** Follows the unfinished record once `carry` is long, to see a field or record too long. */
  private probe: RecordProbe | undefined;
  /** A record too long being read past, without keeping its text, to the line break that ends it. */
  private skipping: { line: number; rule: string; message: string; raw: string } | undefined;

  private readonly batch: BatchBuilder;
  private ready: BatchResult[] = [];

  constructor(
    private readonly opts: CsvOptions,
    private readonly origin: string,
    private readonly warn: (message: string, line: number) => void = () => undefined,
  ) {
    if (opts.quote === opts.delimiter) {
      throw new SluiceError('CONFIG_INVALID', `parse: the quote and the delimiter are both "${opts.quote}"`);
    }
    if (!opts.header && opts.expectHeader) {
      throw new SluiceError('CONFIG_INVALID', 'parse.expectHeader needs header: true');
    }
    if (opts.header && opts.columns) {
      throw new SluiceError('CONFIG_INVALID', 'parse.columns names the columns of a file without a header', {
        hint: 'Set header: false, or use expectHeader to rename the columns of a file with a header.',
      });
    }
    this.delimiter = opts.delimiter;
    this.delimiterCode = opts.delimiter.charCodeAt(0);
    this.quote = opts.quote;
    this.quoteCode = opts.quote.length > 0 ? opts.quote.charCodeAt(0) : -1;
    this.expected = opts.expectHeader ? compileExpected(opts.expectHeader) : undefined;
    this.batch = new BatchBuilder(origin, opts.batchSize);
    if (opts.columns) {
      this.names = opts.columns;
      this.width = opts.columns.length;
    }
  }

  /** The batches completed so far. */
  take(): BatchResult[] {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }

  push(text: string, final: boolean): void {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLF && text.length > 0) {
      this.skipLF = false;
      if (text.charCodeAt(0) === LF) text = text.slice(1);
    }
    if (this.skipping) {
      text = this.skipOn(text, final);
      if (this.skipping) return;
    }
    let buf = text;
    if (this.carry.length > 0) {
      if (!final && this.continuesRecord(text)) {
        this.carry += text;
        this.checkCarry();
        return;
      }
      buf = this.carry + text;
      this.carry = '';
    }
    if (buf.length > 0) this.scan(buf, final);
    if (final) this.finish();
  }

  /** The physical line of `text[index]`, text being the next chunk to push. */
  lineAt(text: string, index: number): number {
    const from = this.skipLF && text.charCodeAt(0) === LF ? 1 : 0;
    const before = this.skipping
      ? this.skipping.line + (this.probe?.breaks ?? 0)
      : this.line + countLineBreaks(this.carry, 0, this.carry.length);
    return before + countLineBreaks(text, from, index);
  }

  /**
   * True when the unfinished record does not end in `text`. A record can only end at a line break; once the
   * record is long, the probe knows whether a line break is inside quotes, so a long quoted field is not read
   * again from its start with every chunk.
   */
  private continuesRecord(text: string): boolean {
    if (this.probe) {
      if (this.probe.advance(text) < 0) return true;
      this.probe = undefined;
      return false;
    }
    return text.indexOf('\n') < 0 && text.indexOf('\r') < 0;
  }

  /** Starts skipping the unfinished record when it, or one of its fields, is longer than allowed. */
  private checkCarry(): void {
    const carry = this.carry;
    const { maxFieldSize, maxRecordLength } = this.opts;
    if (carry.length <= maxFieldSize && carry.length <= maxRecordLength) return;
    if (!this.probe) {
      this.probe = new RecordProbe(this.delimiterCode, this.quoteCode, maxFieldSize);
      this.probe.advance(carry);
    }
    const why = this.tooLong(this.probe.oversizeField, carry.length);
    if (why === undefined) return;
    this.refuseHeader(why);
    this.skipping = { line: this.line, ...why, raw: shortRaw(carry) };
    this.carry = '';
  }

  /** Why a record is refused: a field (1-based, 0 for none) over maxFieldSize, or its length over maxRecordLength. */
  private tooLong(field: number, length: number): { rule: string; message: string } | undefined {
    const { maxFieldSize, maxRecordLength } = this.opts;
    if (field > 0) {
      return {
        rule: 'fieldSize',
        message: `field ${field} is longer than ${maxFieldSize} characters (maxFieldSize)`,
      };
    }
    if (length > maxRecordLength) {
      return {
        rule: 'recordLength',
        message: `the record is longer than ${maxRecordLength} characters (maxRecordLength)`,
      };
    }
    return undefined;
  }

  /** A header line too long fails the file: there is nothing to read the rows by. */
  private refuseHeader(why: { message: string }): void {
    if (this.names !== undefined || !this.opts.header) return;
    throw new SluiceError('LAYOUT_MISMATCH', `the header line is too long: ${why.message}`, {
      where: `${this.origin}:${this.line}`,
      hint: 'A quote is probably left open in the header line.',
    });
  }

  /** Reads past the record being skipped; returns the text after it (empty while it goes on). */
  private skipOn(text: string, final: boolean): string {
    const probe = this.probe!;
    const skipping = this.skipping!;
    const end = probe.advance(text);
    if (end < 0 && !final) return '';
    this.skipping = undefined;
    this.probe = undefined;
    let message = skipping.message;
    if (end < 0 && probe.inQuote && !probe.pendingQuote) {
      message += `; field ${probe.field} opens a quote that is not closed before the end of the file`;
    }
    this.addReject(skipping.line, skipping.rule, message, skipping.raw);
    this.line = skipping.line + 1 + probe.breaks;
    if (end < 0) return '';
    if (text.charCodeAt(end) === CR) {
      if (end + 1 === text.length) {
        this.skipLF = true;
        return '';
      }
      if (text.charCodeAt(end + 1) === LF) return text.slice(end + 2);
    }
    return text.slice(end + 1);
  }

  private scan(buf: string, final: boolean): void {
    const len = buf.length;
    const quoteCode = this.quoteCode;
    let pos = 0;
    // Next LF, CR and quote at or after pos (len when there is none), found with indexOf and reused across
    // lines: a file without CRs or quotes costs one search for each.
    let nextLF = -1;
    let nextCR = -1;
    let nextQuote = quoteCode < 0 ? len : -1;
    this.nextDelimiter = -1;
    while (pos < len) {
      if (nextLF < pos) {
        nextLF = buf.indexOf('\n', pos);
        if (nextLF < 0) nextLF = len;
      }
      if (nextCR < pos) {
        nextCR = buf.indexOf('\r', pos);
        if (nextCR < 0) nextCR = len;
      }
      if (nextQuote < pos) {
        nextQuote = buf.indexOf(this.quote, pos);
        if (nextQuote < 0) nextQuote = len;
      }
      const eol = nextLF < nextCR ? nextLF : nextCR;
      let end: number;
      if (nextQuote >= eol) {
        if (eol === len && !final) break;
        end = eol;
        this.takeLine(buf, pos, end);
      } else {
        end = this.takeQuoted(buf, pos, eol, final);
        if (end < 0) break;
      }
      if (end >= len) {
        pos = len;
      } else if (buf.charCodeAt(end) === CR) {
        if (end + 1 < len) pos = buf.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
        else {
          pos = len;
          this.skipLF = true;
        }
      } else {
        pos = end + 1;
      }
    }
    this.probe = undefined;
    if (pos < len) {
      this.carry = pos === 0 ? buf : buf.slice(pos);
      this.checkCarry();
    }
  }

  /** A line without quotes: the fast path. */
  private takeLine(buf: string, start: number, end: number): void {
    const line = this.line++;
    if (end === start) {
      if (this.opts.skipBlankLines || this.names === undefined) return;
    } else {
      const first = buf.charCodeAt(start);
      if (
        (first === SPACE || first === TAB) &&
        first !== this.delimiterCode &&
        this.isBlank(buf, start, end)
      ) {
        if (this.opts.skipBlankLines || this.names === undefined) return;
      }
    }
    const fields: string[] = [];
    // The next delimiter is found once and kept: the search for a line's last field stops in the next line,
    // and a file with a single column searches its buffer once instead of once a line.
    let d = this.nextDelimiter;
    if (d < start) {
      d = buf.indexOf(this.delimiter, start);
      if (d < 0) d = buf.length;
    }
    let from = start;
    while (d < end) {
      fields.push(buf.slice(from, d));
      from = d + 1;
      d = buf.indexOf(this.delimiter, from);
      if (d < 0) d = buf.length;
    }
    this.nextDelimiter = d;
    fields.push(buf.slice(from, end));
    this.record(fields, line, buf.slice(start, end));
  }

  private isBlank(buf: string, start: number, end: number): boolean {
    for (let p = start; p < end; p++) {
      const c = buf.charCodeAt(p);
      if ((c !== SPACE && c !== TAB) || c === this.delimiterCode) return false;
    }
    return true;
  }

  /**
   * A record with a quote in its first line. Returns where it ends (its line break, or len), or -1 when the
   * buffer ends before it does and more text may come.
   */
  private takeQuoted(buf: string, start: number, firstEol: number, final: boolean): number {
    const len = buf.length;
    const delimiterCode = this.delimiterCode;
    const quoteCode = this.quoteCode;
    const fields: string[] = [];
    let p = start;
    for (;;) {
      if (p < len && buf.charCodeAt(p) === quoteCode) {
        let value = '';
        let from = p + 1;
        for (;;) {
          const q = buf.indexOf(this.quote, from);
          if (q < 0) {
            if (!final) return -1;
            return this.unclosedQuote(buf, start, fields.length + 1);
          }
          // A quote that ends the buffer reads as closing; the record then ends the buffer too, so it is
          // read again, whole, once more text has come.
          if (buf.charCodeAt(q + 1) === quoteCode) {
            value += buf.slice(from, q + 1);
            from = q + 2;
            continue;
          }
          value += buf.slice(from, q);
          p = q + 1;
          break;
        }
        // Text between a closing quote and the delimiter is kept as written, as spreadsheets do.
        const after = p;
        let c = 0;
        while (p < len && (c = buf.charCodeAt(p)) !== delimiterCode && c !== LF && c !== CR) p++;
        if (p > after) value += buf.slice(after, p);
        fields.push(value);
      } else {
        const from = p;
        let c = 0;
        while (p < len && (c = buf.charCodeAt(p)) !== delimiterCode && c !== LF && c !== CR) p++;
        fields.push(buf.slice(from, p));
      }
      if (p >= len) {
        if (!final) return -1;
        break;
      }
      if (buf.charCodeAt(p) === delimiterCode) {
        p++;
        continue;
      }
      break;
    }
    const line = this.line;
    this.line += 1 + (p > firstEol ? countLineBreaks(buf, start, p) : 0);
    this.record(fields, line, buf.slice(start, p));
    return p;
  }

  /** A quote still open at the end of the file: the record is a reject (or the file has no header). */
  private unclosedQuote(buf: string, start: number, field: number): number {
    let end = buf.length;
    if (end > start && buf.charCodeAt(end - 1) === LF) end--;
    if (end > start && buf.charCodeAt(end - 1) === CR) end--;
    const line = this.line;
    if (this.names === undefined && this.opts.header) {
      throw new SluiceError('LAYOUT_MISMATCH', 'the header line opens a quote that is never closed', {
        where: `${this.origin}:${line}`,
      });
    }
    this.addReject(
      line,
      'quote',
      `field ${field} opens a quote that is not closed before the end of the file`,
      buf.slice(start, end),
    );
    return buf.length;
  }

  private record(fields: string[], line: number, raw: string): void {
    const { maxFieldSize, maxRecordLength } = this.opts;
    if (raw.length > maxFieldSize || raw.length > maxRecordLength) {
      const why = this.tooLong(fields.findIndex((f) => f.length > maxFieldSize) + 1, raw.length);
      if (why !== undefined) {
        if (this.names === undefined && this.opts.header) {
          throw new SluiceError('LAYOUT_MISMATCH', `the header line is too long: ${why.message}`, {
            where: `${this.origin}:${line}`,
          });
        }
        this.addReject(line, why.rule, why.message, shortRaw(raw));
        return;
      }
    }
    if (this.names === undefined) {
      if (this.opts.header) {
        this.takeHeader(fields, line);
        return;
      }
      this.names = fields.map((_, i) => `column_${i + 1}`);
      this.width = fields.length;
    }
    if (fields.length !== this.width) {
      this.addReject(line, 'fieldCount', `expected ${this.width} fields, found ${fields.length}`, raw);
      return;
    }
    if (this.batch.addRow(fields, line, raw)) this.flush();
  }

  private takeHeader(cells: string[], line: number): void {
    if (this.expected) {
      const problem = headerProblem(cells, this.expected);
      if (problem) throw new SluiceError('LAYOUT_MISMATCH', problem, { where: `${this.origin}:${line}` });
      this.names = this.expected.map((e) => e.name);
    } else {
      this.names = cells.map((cell) => cell.trim());
      const other =
        cells.length === 1
          ? OTHER_DELIMITERS.find((d) => d !== this.delimiter && cells[0]!.includes(d))
          : undefined;
      if (other !== undefined)
        this.warn(
          `${this.origin}:${line}: the header is one column, ${JSON.stringify(cells[0])}: the file looks ` +
            `separated by ${JSON.stringify(other)}, not ${JSON.stringify(this.delimiter)}; set delimiter: ` +
            `${JSON.stringify(other)} in its parse options`,
          line,
        );
    }
    this.width = this.names.length;
  }

  private addReject(line: number, rule: string, message: string, raw: string): void {
    if (this.batch.addReject(line, rule, message, raw)) this.flush();
  }

  private flush(last = false): void {
    const result = this.batch.build(this.names ?? [], last);
    if (result) this.ready.push(result);
  }

  private finish(): void {
    if (this.names === undefined && this.opts.header) {
      throw new SluiceError('FILE_EMPTY', 'the file is empty: expected a header line', {
        where: `${this.origin}:1`,
      });
    }
    this.flush(true);
  }
}

/** Line breaks (CRLF, LF or CR) in buf[start, end). */
function countLineBreaks(buf: string, start: number, end: number): number {
  let count = 0;
  for (let p = start; p < end; p++) {
    const c = buf.charCodeAt(p);
    if (c === LF) count++;
    else if (c === CR) {
      count++;
      if (p + 1 < end && buf.charCodeAt(p + 1) === LF) p++;
    }
  }
  return count;
}

/** The start of an over-long record, for its reject. */
function shortRaw(raw: string): string {
  return raw.length <= RAW_KEPT ? raw : `${raw.slice(0, RAW_KEPT)}…`;
}

const RAW_KEPT = 1_000;

/**
 * Follows a record character by character with the quoting rules of CsvReader (a field is quoted when it
 * starts with the quote; a doubled quote inside is a literal one; a line break inside quotes belongs to the
 * field), counting its line breaks and noting the first field longer than `max`.
 */
class RecordProbe {
  inQuote = false;
  /** A quote inside a quoted field was the last character: the next one says whether it was doubled. */
  pendingQuote = false;
  private atFieldStart = true;
  /** 1-based number of the field being read. */
  field = 1;
  private fieldLength = 0;
  oversizeField = 0;
  /** Line breaks inside quoted fields so far. */
  breaks = 0;
  private lastCR = false;

  constructor(
    private readonly delimiter: number,
    private readonly quote: number,
    private readonly max: number,
  ) {}

  /** Reads on through `text`; returns where the record ends in it (its line break), or -1. */
  advance(text: string): number {
    const { delimiter, quote } = this;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.pendingQuote) {
        this.pendingQuote = false;
        if (c === quote) {
          this.grow();
          continue;
        }
        this.inQuote = false;
      }
      if (this.inQuote) {
        if (c === quote) this.pendingQuote = true;
        else {
          if (c === LF) {
            if (!this.lastCR) this.breaks++;
          } else if (c === CR) this.breaks++;
          this.lastCR = c === CR;
          this.grow();
        }
        continue;
      }
      this.lastCR = false;
      if (c === delimiter) {
        this.field++;
        this.fieldLength = 0;
        this.atFieldStart = true;
        continue;
      }
      if (c === LF || c === CR) return i;
      if (this.atFieldStart && c === quote) this.inQuote = true;
      else this.grow();
      this.atFieldStart = false;
    }
    return -1;
  }

  private grow(): void {
    if (++this.fieldLength > this.max && this.oversizeField === 0) this.oversizeField = this.field;
  }
}
