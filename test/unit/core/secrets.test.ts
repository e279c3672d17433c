import { describe, expect, it } from 'vitest';
import { createMasker, isSecretName, MASK, urlSecrets } from '../../../src/core/secrets.js';

// Keys with the characters that encode differently in each serializer: `~` (raw in encodeURIComponent,
// %7E in URLSearchParams), a space (%20 or +), `!'()` (raw in encodeURIComponent, encoded in forms).
const KEYS = ['k~ey with space', "bang!quote'(paren)", 'plus+slash/amp&eq=', 'ünï€ode-日本'];

/** Every form a key may take in a URL, a header or a message. */
function encodings(secret: string): string[] {
  const form = new URLSearchParams({ k: secret }).toString().slice(2);
  const url = new URL('https://api.example.com/x');
  url.searchParams.set('key', secret);
  const pathUrl = new URL(`https://api.example.com/${secret}`);
  const queryUrl = new URL(`https://api.example.com/x?key=${secret}`);
  return [
    secret,
    encodeURIComponent(secret),
    encodeURI(secret),
    form,
    form.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    url.search.slice('?key='.length),
    pathUrl.pathname.slice(1),
    queryUrl.search.slice('?key='.length),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
  ];
}

describe('createMasker', () => {
  for (const key of KEYS) {
    it(`masks every encoding of ${JSON.stringify(key)}`, () => {
      const mask = createMasker([key]);
      for (const form of encodings(key)) {
        const masked = mask(`GET https://api.example.com/v1?key=${form}&page=2 failed: ${form}.`);
        expect(masked, form).toBe(`GET https://api.example.com/v1?key=${MASK}&page=2 failed: ${MASK}.`);
      }
    });
  }

  it('masks a Basic credential pair, its base64 forms and AUTH PLAIN', () => {
    const mask = createMasker([{ username: 'etl', password: 'pa ss~!' }]);
    const basic = Buffer.from('etl:pa ss~!').toString('base64');
    const plain = Buffer.from('\0etl\0pa ss~!').toString('base64');
    expect(mask(`Authorization: Basic ${basic}`)).toBe(`Authorization: Basic ${MASK}`);
    expect(mask(`AUTH PLAIN ${plain}`)).toBe(`AUTH PLAIN ${MASK}`);
    expect(mask('password pa%20ss%7E%21 refused')).toBe(`password ${MASK} refused`);
    expect(mask('user etl')).toBe('user etl'); // the user name is not a secret
  });

  it('masks the longer of two overlapping secrets whole, leaves short ones and other text alone', () => {
    const mask = createMasker(['abcdef', 'abc', 'xy', undefined, null, '']);
    expect(mask('abcdefgh abc xy')).toBe(`${MASK}gh ${MASK} xy`);
    expect(createMasker([]).empty).toBe(true);
    expect(createMasker(['xy']).empty).toBe(true);
    expect(createMasker([])('nothing to hide')).toBe('nothing to hide');
  });

  it('reads secrets out of URLs and names', () => {
    expect(urlSecrets('https://u:p%40ss@h.example/x?api_key=k1&page=2&access_token=t1&sig=s1')).toEqual([
      'k1',
      't1',
      's1',
      'p@ss',
    ]);
    expect(urlSecrets('not a url')).toEqual([]);
    for (const name of ['Authorization', 'X-API-Key', 'apikey', 'token', 'client_secret', 'X-Amz-Signature'])
      expect(isSecretName(name), name).toBe(true);
    for (const name of ['page', 'monkey', 'keys', 'cursor', 'content-type'])
      expect(isSecretName(name), name).toBe(false);
  });
});
