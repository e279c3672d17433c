import { z } from 'zod';
import { formatDuration } from './duration.js';

// Keys that Sluice once spelt differently, so that a file written for the old name is refused at that key
// with the name to write now (`source.timeoutMs: renamed: write timeout: 30s`), rather than with a bare
// "unknown key". The config loader consults this table where it reports an unknown key.

/** A renamed key: the key to write now, and the old value as the new key takes it when that can be said. */
export interface RenamedKey {
  /** The key to write now, as a key path from the same object (`retry.attempts`). */
  to: string;
  /** The old value in the new key's terms (`30000` milliseconds → `30s`), given the object holding it. */
  value?: (old: unknown, siblings: Record<string, unknown>) => string | undefined;
}

/** Milliseconds as a duration with its unit, exactly (`30000` → `30s`, `1500` → `1500ms`). */
function fromMs(old: unknown): string | undefined {
  if (typeof old !== 'number' || !Number.isSafeInteger(old) || old < 0) return undefined;
  return old === 0 ? '0s' : old % 1000 === 0 ? formatDuration(old) : `${old}ms`;
}

/** The http and scan sources' timeouts and retries, once `…Ms` integers and a count of retries. */
const transport: Record<string, RenamedKey> = {
  connectTimeoutMs: { to: 'connectTimeout', value: fromMs },
  readTimeoutMs: { to: 'readTimeout', value: fromMs },
  // A count of retries after the first attempt; attempts count the first.
  retries: {
    to: 'retry.attempts',
    value: (old) => (typeof old === 'number' && Number.isSafeInteger(old) ? String(old + 1) : undefined),
  },
  retryBaseDelayMs: { to: 'retry.baseDelay', value: fromMs },
  retryMaxDelayMs: { to: 'retry.maxDelay', value: fromMs },
  maxRetryAfterMs: { to: 'retry.maxRetryAfter', value: fromMs },
};

/** The imap source's connection (and a saved mail account's): two TLS booleans became `security`. */
const imapConnection: Record<string, RenamedKey> = {
  timeoutMs: { to: 'timeout', value: fromMs },
  tls: {
    to: 'security',
    value: (old, o) => (old === true ? 'tls' : old === false && o.starttls === true ? 'starttls' : undefined),
  },
  starttls: {
    to: 'security',
    value: (old, o) => (o.tls === true ? 'tls' : old === true ? 'starttls' : undefined),
  },
};

/** Every renamed key, per place it appears in. A schema names its place with {@link withRenamedKeys}. */
export const RENAMED_KEYS = {
  /** The imap source. */
  imap: imapConnection,
  /** `accounts[]` of an inbox file (and a saved mail account). */
  inboxAccount: imapConnection,
  /** `auth` of the imap source and of a mail account. */
  imapAuth: { user: { to: 'username' } },
  sftp: { readyTimeoutMs: { to: 'connectTimeout', value: fromMs } },
  http: transport,
  scan: { ...transport, delayMs: { to: 'delay', value: fromMs } },
  sql: {
    lookbackDays: {
      to: 'lookback',
      value: (old) => (typeof old === 'number' && old >= 0 ? `${old}d` : undefined),
    },
  },
  /** `notify.email` of a pipeline. */
  notifyEmail: { user: { to: 'username' } },
  /** `smtp` of a report. */
  reportSmtp: { user: { to: 'username' } },
  /** An import rule (a rules file, `sluice rules edit --set`). */
  importRule: { strategy: { to: 'schema' } },
} satisfies Record<string, Record<string, RenamedKey>>;

export type RenamedKeysPlace = keyof typeof RENAMED_KEYS;

const places = z.registry<{ place: RenamedKeysPlace }>();

/**
 * Marks `schema` (an object, as it is used: after `.superRefine()` and `.describe()`, which copy it) as
 * the place whose old keys {@link RENAMED_KEYS} lists. Returns it.
 */
export function withRenamedKeys<S extends z.core.$ZodType>(place: RenamedKeysPlace, schema: S): S {
  places.add(schema, { place });
  return schema;
}

/** The place a schema was marked as, if any. */
export function renamedKeysPlace(schema: z.core.$ZodType): RenamedKeysPlace | undefined {
  return places.get(schema)?.place;
}

/** `retry: { attempts: 4 }` for `retry.attempts` and `4`; the bare key path without a value. */
function snippet(to: string, value: string | undefined): string {
  if (value === undefined) return to;
  const keys = to.split('.');
  return keys.reduceRight(
    (inner, key, i) => (i === keys.length - 1 ? `${key}: ${inner}` : `${key}: { ${inner} }`),
    value,
  );
}

/**
 * What to say about `key`, unknown in the objects marked with `placesHere`, when it is an old name:
 * `renamed: write timeout: 30s`. Undefined when no place there renamed it.
 */
export function renamedKeyMessage(
  placesHere: readonly RenamedKeysPlace[],
  key: string,
  siblings: Record<string, unknown>,
): string | undefined {
  for (const place of placesHere) {
    const table: Record<string, RenamedKey> = RENAMED_KEYS[place];
    const renamed = Object.hasOwn(table, key) ? table[key] : undefined;
    if (renamed) return `renamed: write ${snippet(renamed.to, renamed.value?.(siblings[key], siblings))}`;
  }
  return undefined;
}
