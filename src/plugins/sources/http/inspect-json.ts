import { createReadStream } from 'node:fs';
import { JSONParser } from '@streamparser/json';
import { SluiceError } from '../../../core/errors.js';

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
  const parser = new JSONParser({
    paths: [`${recordsBase}.*`, recordsBase, ...fieldPaths.keys()],
    keepStack: false,
  });
  const facts: PageFacts = { records: undefined, fields: {} };
  parser.onValue = ({ value, stack, key, parent }) => {
    const container = pathOf(stack);
    if (container === recordsBase && Array.isArray(parent)) {
      facts.records = (facts.records ?? 0) + 1;
      return;
    }
    const path = key === undefined ? '$' : `${container}.${String(key)}`;
    // The records array arrives emptied (its elements went first): it only says the array is there.
    if (path === recordsBase && Array.isArray(value)) facts.records ??= 0;
    const field = fieldPaths.get(path);
    if (field !== undefined) facts.fields[field] = value;
  };
  parser.onError = (error) => {
    throw new SluiceError('PARSE_FAILED', `the response is not valid JSON: ${error.message}`, {
      where: file,
    });
  };
  for await (const chunk of createReadStream(file)) parser.write(chunk as Buffer);
  return facts;
}

/** `$.a.b` for the containers of a value (the root has no key). */
function pathOf(stack: { key?: unknown }[]): string {
  return `$${stack
    .slice(1)
    .map((s) => `.${String(s.key)}`)
    .join('')}`;
}
