import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  decodeFileName,
  stabilityOptions,
  takeStable,
  type Candidate,
  type Observed,
} from '../../../../src/plugins/sources/file-listing.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('decodeFileName', () => {
  it('keeps a UTF-8 name as it is', () => {
    expect(decodeFileName(Buffer.from('informe_año_100%.csv'))).toEqual({
      name: 'informe_año_100%.csv',
      valid: true,
    });
  });

  it('writes the bytes that are not UTF-8 (and % beside them) as %XX, keeping the readable rest', () => {
    const latin1 = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('_50%_ñ.csv')]);
    expect(decodeFileName(latin1)).toEqual({ name: 'caf%E9_50%25_ñ.csv', valid: false });
    // A truncated sequence, an overlong form and a lone continuation byte.
    expect(decodeFileName(Buffer.from([0x61, 0xe2, 0x82, 0x2e, 0xc0, 0xaf, 0x80]))).toEqual({
      name: 'a%E2%82.%C0%AF%80',
      valid: false,
    });
  });
});

describe('stability options', () => {
  const schema = z.object(stabilityOptions);
  it('take durations with units, 0s to turn off, and default to 2s and 10m', () => {
    expect(schema.parse({})).toEqual({ stableFor: 2_000, minAge: 600_000 });
    expect(schema.parse({ stableFor: '0s', minAge: '1h30m' })).toEqual({ stableFor: 0, minAge: 5_400_000 });
    expect(schema.parse({ stableFor: '250ms' })).toMatchObject({ stableFor: 250 });
    expect(schema.safeParse({ stableFor: 'soon' }).success).toBe(false);
    expect(schema.safeParse({ minAge: '-1s' }).success).toBe(false);
    // A bare number has no unit: refused rather than guessed at.
    expect(schema.safeParse({ stableFor: 30 }).error?.issues[0]?.message).toBe(
      'a duration with its unit, such as "5s" or "2m" ("0s" for none)',
    );
  });
});

describe('takeStable', () => {
  const now = 1_000_000_000;
  const file = (name: string, size: number, ageMs: number): Candidate<string> => ({
    name,
    observed: { size, modifiedMs: now - ageMs },
    handle: name,
  });

  it('takes old files at once, and recent ones only when unchanged across the interval', async () => {
    const later = new Map<string, Observed | undefined>([
      ['growing.csv', { size: 200, modifiedMs: now }],
      ['touched.csv', { size: 10, modifiedMs: now + 1000 }],
      ['steady.csv', { size: 10, modifiedMs: now - 1000 }],
      ['gone.csv', undefined],
    ]);
    const asked: string[] = [];
    const messages: string[] = [];
    const candidates = [
      file('old.csv', 5, 3_600_000),
      file('growing.csv', 100, 500),
      file('touched.csv', 10, 500),
      file('steady.csv', 10, 1000),
      file('gone.csv', 1, 0),
    ];
    const taken = await takeStable(candidates, {
      stableForMs: 1,
      minAgeMs: 600_000,
      now,
      restat: async (c) => {
        asked.push(c.name);
        return later.get(c.name);
      },
      logger: { ...quiet, info: (m) => messages.push(m) },
      signal: new AbortController().signal,
    });
    expect(taken.map((c) => c.name)).toEqual(['old.csv', 'steady.csv']);
    expect(asked).toEqual(['growing.csv', 'touched.csv', 'steady.csv', 'gone.csv']);
    expect(messages.slice(1)).toEqual([
      'growing.csv is still being written (100 → 200 bytes within 1ms): left for the next run',
      'touched.csv is still being written (modified again within 1ms): left for the next run',
      'gone.csv is gone since the listing',
    ]);
  });

  it('does not look twice when the check is off, or when every file is old enough', async () => {
    const restat = async (): Promise<Observed> => {
      throw new Error('not expected');
    };
    const options = { restat, logger: quiet, signal: new AbortController().signal, now };
    const recent = [file('a.csv', 1, 0)];
    expect(await takeStable(recent, { ...options, stableForMs: 0, minAgeMs: 600_000 })).toEqual(recent);
    const old = [file('b.csv', 1, 700_000)];
    expect(await takeStable(old, { ...options, stableForMs: 60_000, minAgeMs: 600_000 })).toEqual(old);
  });

  it('stops waiting when the run is aborted', async () => {
    const abort = new AbortController();
    const waiting = takeStable([file('a.csv', 1, 0)], {
      stableForMs: 3_600_000,
      minAgeMs: 0,
      now,
      restat: async (c) => c.observed,
      logger: { ...quiet, info: () => abort.abort() },
      signal: abort.signal,
    });
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
