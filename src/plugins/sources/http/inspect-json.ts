import { createReadStream } from 'node:fs';
import { Tokenizer, TokenParser } from '@streamparser/json';
import { SluiceError } from '../../../core/errors.js';
import { JsonPathTracker } from '../../../connectors/json/json-path-tracker.js';

export interface PageFacts {
  /** Elements of the records array (undefined when it is not in the page). */
  records: number | undefined;
  /** The scalar at each field path asked for (undefined when absent). */
  fields: Record<string, unknown>;
}

/**
 * A page whose JSON document breaks off (or never starts): the body was cut short on the way, so reading it
 * again may give it whole. Not to be taken as a page without a cursor.
 */
export class IncompleteJsonError extends SluiceError {
  constructor(file: string, bytes: number) {
    super(
      'PARSE_FAILED',
      bytes === 0
        ? 'the response is empty: no JSON document to read the next page from'
        : `the response ends after ${bytes} bytes, before its JSON document does: it was cut short`,
      { where: file, retryable: true },
    );
  }
}

/**
 * Reads what pagination needs from a saved JSON page (how many records, the cursor or next URL), streamed:
 * the page is never held whole. The document must be complete: one that breaks off throws
 * {@link IncompleteJsonError}, one that is not JSON a `PARSE_FAILED` error.
 */
export async function inspectJson(
  file: string,
  want: { recordsPath: string | undefined; fields: string[] },
): Promise<PageFacts> {
  const recordsBase = want.recordsPath ? `$.${want.recordsPath}` : '$';
  const fieldPaths = new Map(want.fields.map((f) => [`$.${f}`, f]));
  const tokenizer = new Tokenizer();
  const parser = new TokenParser({ paths: [`${recordsBase}.*`, ...fieldPaths.keys()], keepStack: false });
  const tracker = new JsonPathTracker(want.recordsPath);
  const facts: PageFacts = { records: undefined, fields: {} };
  let tokens = 0;
  tokenizer.onToken = (token) => {
    tokens++;
    const found = tracker.found;
    tracker.see(token);
    if (tracker.found > found && !tracker.foundObject) facts.records ??= 0;
    parser.write(token);
  };
  parser.onValue = ({ value, stack, key, parent }) => {
    const container = pathOf(stack);
    if (container === recordsBase && Array.isArray(parent)) {
      facts.records = (facts.records ?? 0) + 1;
      return;
    }
    const field = fieldPaths.get(key === undefined ? '$' : `${container}.${String(key)}`);
    if (field !== undefined) facts.fields[field] = value;
  };
  let bytes = 0;
  let ending = false;
  const fail = (error: Error) => {
    if (ending) throw new IncompleteJsonError(file, bytes);
    throw new SluiceError('PARSE_FAILED', `the response is not valid JSON: ${error.message}`, {
      where: file,
    });
  };
  tokenizer.onError = fail;
  parser.onError = fail;
  // The tokenizer ends the parser when a top-level value is complete; a second one is an error.
  tokenizer.onEnd = () => undefined;
  for await (const chunk of createReadStream(file)) {
    bytes += (chunk as Buffer).length;
    tokenizer.write(chunk as Buffer);
  }
  ending = true;
  tokenizer.end();
  if (tokens === 0) throw new IncompleteJsonError(file, bytes);
  if (!parser.isEnded) parser.end();
  return facts;
}

/** `$.a.b` for the containers of a value (the root has no key). */
function pathOf(stack: { key?: unknown }[]): string {
  return `$${stack
    .slice(1)
    .map((s) => `.${String(s.key)}`)
    .join('')}`;
}
