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
 * Reads what pagination needs from a saved JSON page (how many records, the cursor or next URL), streamed:
 * the page is never held whole.
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
  tokenizer.onToken = (token) => {
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
  const fail = (error: Error) => {
    throw new SluiceError('PARSE_FAILED', `the response is not valid JSON: ${error.message}`, {
      where: file,
    });
  };
  tokenizer.onError = fail;
  parser.onError = fail;
  for await (const chunk of createReadStream(file)) tokenizer.write(chunk as Buffer);
  return facts;
}

/** `$.a.b` for the containers of a value (the root has no key). */
function pathOf(stack: { key?: unknown }[]): string {
  return `$${stack
    .slice(1)
    .map((s) => `.${String(s.key)}`)
    .join('')}`;
}
