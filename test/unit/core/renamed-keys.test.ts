import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkConfig, type KeyPath } from '../../../src/core/config-file.js';
import { importRuleSchema } from '../../../src/core/import-rule-spec.js';
import { notifySchema } from '../../../src/core/notify-spec.js';
import {
  RENAMED_KEYS,
  renamedKeyMessage,
  withRenamedKeys,
  type RenamedKeysPlace,
} from '../../../src/core/renamed-keys.js';
import { reportSchema } from '../../../src/core/report-spec.js';
import { httpSource } from '../../../src/plugins/sources/http-source.js';
import { imapSource } from '../../../src/plugins/sources/imap-source.js';
import { accountSchema } from '../../../src/plugins/sources/imap/inbox-file.js';
import { scanSource } from '../../../src/plugins/sources/scan-source.js';
import { sftpSource } from '../../../src/plugins/sources/sftp-source.js';
import { sqlSource } from '../../../src/plugins/sources/sql/sql-source.js';

const imap = { url: 'imap://etl@mail.example.com/INBOX', password: 'secret', rules: [{ name: 'all' }] };
const rule = {
  name: 'sales',
  filePattern: '^sales_.*\\.csv$',
  fileType: 'csv',
  sourceFolder: '/srv/inbox',
  archiveFolder: '/srv/archive',
  targetTable: 'sales',
};
const report = {
  name: 'daily',
  to: 'boss@example.com',
  subject: 'Visits',
  body: '<p>hello</p>',
  smtp: { host: 'smtp.example.com', from: 'sluice@example.com' },
};

/** Where each place's keys are written: a schema, the key path of the place inside it, and a value. */
const places: { place: RenamedKeysPlace; schema: z.ZodType; at: KeyPath; value: Record<string, unknown> }[] =
  [
    { place: 'imap', schema: imapSource.options, at: [], value: imap },
    {
      place: 'inboxAccount',
      schema: accountSchema,
      at: [],
      value: { name: 'etl', url: imap.url, password: 'x' },
    },
    {
      place: 'imapAuth',
      schema: imapSource.options,
      at: ['auth'],
      value: { ...imap, password: undefined, auth: { type: 'password', password: 'x' } },
    },
    {
      place: 'imapAuth',
      schema: accountSchema,
      at: ['auth'],
      value: {
        name: 'gmail',
        url: 'imaps://imap.gmail.com/INBOX',
        auth: { type: 'oauth2', clientId: 'c', clientSecret: 's', refreshToken: 'r' },
      },
    },
    { place: 'sftp', schema: sftpSource.options, at: [], value: { url: 'sftp://etl@h/in' } },
    { place: 'http', schema: httpSource.options, at: [], value: { url: 'https://api.example.com/v1' } },
    {
      place: 'scan',
      schema: scanSource.options,
      at: [],
      value: { urlTemplate: 'https://example.com/e/{id}', ids: [1] },
    },
    { place: 'sql', schema: sqlSource.options, at: [], value: { url: 'postgres://h/db', table: 't' } },
    {
      place: 'notifyEmail',
      schema: notifySchema,
      at: ['email'],
      value: { email: { host: 'smtp.example.com', from: 'a@example.com', to: 'b@example.com' } },
    },
    { place: 'reportSmtp', schema: reportSchema, at: ['smtp'], value: report },
    { place: 'importRule', schema: importRuleSchema, at: [], value: rule },
  ];

/** `value` with `entries` added to the object at key path `at` (made when missing). */
function withKeys(
  value: Record<string, unknown>,
  at: KeyPath,
  entries: Record<string, unknown>,
): Record<string, unknown> {
  if (at.length === 0) return { ...value, ...entries };
  const [key, ...rest] = at as [string, ...string[]];
  return { ...value, [key]: withKeys((value[key] as Record<string, unknown>) ?? {}, rest, entries) };
}

/** `{ retry: { attempts: undefined } }` for `retry.attempts`: the new key written, with nothing in it. */
function written(to: string): Record<string, unknown> {
  return to.split('.').reduceRight<unknown>((inner, key) => ({ [key]: inner }), undefined) as Record<
    string,
    unknown
  >;
}

const problemsOf = (schema: z.ZodType, value: unknown) => {
  const result = checkConfig(schema, value);
  return result.ok ? [] : result.problems;
};

describe('the table of renamed keys', () => {
  it('covers every place it lists', () => {
    expect(new Set(places.map((p) => p.place))).toEqual(new Set(Object.keys(RENAMED_KEYS)));
  });

  for (const { place, schema, at, value } of places) {
    it(`${place} at ${at.join('.') || 'the top'}: the old keys are refused with the new one, which is taken`, () => {
      for (const [old, renamed] of Object.entries(RENAMED_KEYS[place])) {
        const refused = problemsOf(schema, withKeys(value, at, { [old]: 'x' }));
        expect(refused, old).toContainEqual({
          path: [...at, old],
          message: `renamed: write ${renamed.to}`,
          onKey: true,
        });
        const taken = problemsOf(schema, withKeys(value, at, written(renamed.to)));
        expect(
          taken.filter((p) => p.onKey),
          `${old} → ${renamed.to}`,
        ).toEqual([]);
      }
    });
  }

  it('says the old value in the new terms where it can', () => {
    const say = (place: RenamedKeysPlace, key: string, siblings: Record<string, unknown>) =>
      renamedKeyMessage([place], key, siblings);
    expect(say('imap', 'timeoutMs', { timeoutMs: 30_000 })).toBe('renamed: write timeout: 30s');
    expect(say('http', 'readTimeoutMs', { readTimeoutMs: 1500 })).toBe('renamed: write readTimeout: 1500ms');
    expect(say('http', 'maxRetryAfterMs', { maxRetryAfterMs: 5_400_000 })).toBe(
      'renamed: write retry: { maxRetryAfter: 1h30m }',
    );
    expect(say('scan', 'delayMs', { delayMs: 0 })).toBe('renamed: write delay: 0s');
    // Retries counted the attempts after the first; attempts count it.
    expect(say('http', 'retries', { retries: 3 })).toBe('renamed: write retry: { attempts: 4 }');
    expect(say('sql', 'lookbackDays', { lookbackDays: 7 })).toBe('renamed: write lookback: 7d');
    expect(say('imap', 'tls', { tls: true })).toBe('renamed: write security: tls');
    expect(say('imap', 'tls', { tls: false, starttls: true })).toBe('renamed: write security: starttls');
    expect(say('imap', 'starttls', { tls: false, starttls: true })).toBe('renamed: write security: starttls');
    expect(say('imap', 'tls', { tls: false })).toBe('renamed: write security');
    // A value from ${VAR} (text) is not guessed at; nor is a key renamed without a change of value.
    expect(say('sftp', 'readyTimeoutMs', { readyTimeoutMs: '${WAIT}' })).toBe(
      'renamed: write connectTimeout',
    );
    expect(say('notifyEmail', 'user', { user: 'etl' })).toBe('renamed: write username');
  });

  it('answers only in the places that renamed the key', () => {
    expect(renamedKeyMessage(['sftp'], 'user', { user: 'etl' })).toBeUndefined();
    expect(renamedKeyMessage([], 'timeoutMs', {})).toBeUndefined();
    // An object not marked as a place gets the ordinary answer for an unknown key.
    const unmarked = z.strictObject({ username: z.string().optional() });
    expect(problemsOf(unmarked, { user: 'etl' })).toEqual([
      { path: ['user'], message: 'unknown key; expected one of: username', onKey: true },
    ]);
    const marked = withRenamedKeys('notifyEmail', z.strictObject({ username: z.string().optional() }));
    expect(problemsOf(z.strictObject({ email: marked.optional() }), { email: { user: 'etl' } })).toEqual([
      { path: ['email', 'user'], message: 'renamed: write username', onKey: true },
    ]);
  });
});
