/**
 * Masking of secrets (tokens, passwords, API keys) in log lines and messages, whatever encoding they took on
 * the way: a key put in a URL's query is `%7E` or `+` there, a password in a Basic header is base64. One
 * masker per source or notice, built once from its secrets.
 */

/** What a secret is replaced with. */
export const MASK = '***';

/** Secrets shorter than this are not masked: masking `ab` everywhere would garble every message. */
export const MIN_SECRET_LENGTH = 3;

/** A credential pair sent as HTTP Basic or SMTP AUTH: masked alone and in its combined base64 forms. */
export interface SecretPair {
  username: string;
  password: string;
}

export interface Masker {
  /** `text` with every form of every secret replaced by `***`. */
  (text: string): string;
  /** True when the masker has nothing to mask. */
  readonly empty: boolean;
}

/**
 * A masker for these secrets. Each secret is matched raw and in every percent-encoding of its characters
 * (encodeURIComponent, URLSearchParams with `+` for a space, the WHATWG URL serializer, upper- or lower-case
 * hex, partly encoded), JSON-escaped, and as base64 / base64url; a pair adds `user:password` (HTTP Basic) and
 * `\0user\0password` (SMTP AUTH PLAIN) in base64.
 */
export function createMasker(secrets: Iterable<string | SecretPair | undefined | null>): Masker {
  const forms = new Set<string>();
  const texts: string[] = [];
  for (const secret of secrets) {
    if (!secret) continue;
    if (typeof secret === 'string') texts.push(secret);
    else {
      texts.push(secret.password);
      if (secret.password) {
        forms.add(base64(`${secret.username}:${secret.password}`));
        forms.add(base64(`\0${secret.username}\0${secret.password}`));
      }
    }
  }
  const patterns: string[] = [];
  for (const text of texts) {
    if (text.length < MIN_SECRET_LENGTH) continue;
    patterns.push(anyPercentEncoding(text));
    const json = JSON.stringify(text).slice(1, -1);
    if (json !== text) forms.add(json);
    forms.add(base64(text));
    forms.add(base64Url(text));
  }
  for (const form of forms) if (form.length >= MIN_SECRET_LENGTH) patterns.push(escapeRegExp(form));
  if (patterns.length === 0) return Object.assign((text: string) => text, { empty: true });
  // Longest first, so that a secret is masked whole rather than a shorter one inside it first.
  patterns.sort((a, b) => b.length - a.length);
  const pattern = new RegExp(patterns.join('|'), 'g');
  return Object.assign((text: string) => text.replace(pattern, MASK), { empty: false });
}

/**
 * The values of query parameters whose names say they are secrets (`key`, `token`, `api_key`, `password`,
 * `signature`…) and the password part, for URLs written into a configuration with the secret inside them.
 */
export function urlSecrets(url: string | URL): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const out = namedSecrets(Object.fromEntries(parsed.searchParams));
  if (parsed.password) out.push(decodeURIComponentSafe(parsed.password));
  return out;
}

/** The values of a record (headers, query parameters) whose names say they are secrets. */
export function namedSecrets(values: Record<string, unknown>): string[] {
  return Object.entries(values)
    .filter(([name, value]) => isSecretName(name) && typeof value === 'string' && value !== '')
    .map(([, value]) => value as string);
}

/** True for a header or parameter name that holds a secret (`Authorization`, `X-API-Key`, `access_token`). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

const SECRET_NAME =
  /^(authorization|proxy-authorization|cookie)$|(^|[_-])(key|apikey|token|secret|password|passwd|pwd|signature|sig|auth|credential|session)$|^(access|api|client|private|secret)[_-]?(key|token|secret)$/i;

/**
 * A regular expression source matching `text` with any of its characters written raw or percent-encoded
 * (UTF-8, hex in either case), a space also as `+`.
 */
function anyPercentEncoding(text: string): string {
  let out = '';
  for (const char of text) {
    const encoded = [...Buffer.from(char, 'utf8')]
      .map((byte) => {
        const hex = byte.toString(16).toUpperCase().padStart(2, '0');
        return `%${hexDigit(hex[0]!)}${hexDigit(hex[1]!)}`;
      })
      .join('');
    const alternatives = [escapeRegExp(char), encoded];
    if (char === ' ') alternatives.push('\\+');
    out += `(?:${alternatives.join('|')})`;
  }
  return out;
}

function hexDigit(digit: string): string {
  return /[A-F]/.test(digit) ? `[${digit}${digit.toLowerCase()}]` : digit;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function base64Url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
