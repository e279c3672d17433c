// The dashboard's only data source: the service's public API on the same origin. Changes (and reads, when
// the service keeps them closed) need its bearer token, asked once per browser session and kept in
// sessionStorage: it is gone when the tab is closed.

import { h } from './dom.js';

const TOKEN_KEY = 'sluice.apiToken';

/** An answer of the API that is not a success: its error code, text and hint, as the API wrote them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }

  /** The API's text, with its hint. */
  get text(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  document.dispatchEvent(new Event('sluice-token'));
}

function keepToken(token: string) {
  sessionStorage.setItem(TOKEN_KEY, token);
  document.dispatchEvent(new Event('sluice-token'));
}

let asking: Promise<string | null> | undefined;

/**
 * Asks for the token in a modal dialog (keyboard: Enter sends, Escape cancels); null when cancelled. Two
 * requests needing it at once share one dialog.
 */
export function askToken(why: string): Promise<string | null> {
  asking ??= new Promise<string | null>((resolve) => {
    const input = h('input', {
      type: 'password',
      name: 'token',
      id: 'token-input',
      autocomplete: 'off',
      required: true,
    });
    const dialog = h(
      'dialog',
      { class: 'token-dialog', 'aria-labelledby': 'token-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'token-title' }, 'API token'),
        h('p', {}, why),
        h('label', { for: 'token-input' }, 'Token (SLUICE_API_TOKEN of the service)'),
        input,
        h(
          'p',
          { class: 'buttons' },
          h('button', { type: 'submit', value: 'ok', class: 'primary' }, 'Use token'),
          h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, 'Cancel'),
        ),
        h('p', { class: 'hint' }, 'Kept in this tab until it is closed (sessionStorage).'),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      asking = undefined;
      const token = input.value.trim();
      if (dialog.returnValue === 'ok' && token) {
        keepToken(token);
        resolve(token);
      } else resolve(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
  return asking;
}

async function send(method: string, path: string, body: unknown, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; hint?: string } };
    if (parsed.error?.message)
      return new ApiError(
        response.status,
        parsed.error.code ?? 'ERROR',
        parsed.error.message,
        parsed.error.hint,
      );
  } catch {
    // not JSON: a proxy's page, say
  }
  return new ApiError(response.status, 'HTTP_' + response.status, text.slice(0, 200) || response.statusText);
}

/**
 * Reads a route. When the service keeps reads closed (401) or the kept token is wrong (403), asks for the
 * token once and tries again.
 */
export async function apiGet<T>(path: string): Promise<T> {
  let response = await send('GET', path, undefined, storedToken());
  if (response.status === 401 || response.status === 403) {
    const refusal = await errorOf(response);
    if (response.status === 403) forgetToken();
    const token = await askToken(`The service refused to show this: ${refusal.text}`);
    if (!token) throw refusal;
    response = await send('GET', path, undefined, token);
  }
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

/**
 * Reads a route as a file (the rejects CSV) with the token, and hands it to the browser as a download:
 * a plain link could not send the token.
 */
export async function apiDownload(path: string, filename: string): Promise<void> {
  const response = await send('GET', path, undefined, storedToken());
  if (!response.ok) throw await errorOf(response);
  const url = URL.createObjectURL(await response.blob());
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * A change (POST). Asks for the token first when this session has none; when the API refuses (no token,
 * a wrong one), the ApiError carries its text and a wrong token is forgotten so the next action asks again.
 */
export async function apiPost<T>(path: string, body: unknown = {}): Promise<T> {
  const token = storedToken() ?? (await askToken('Changes need the API token.'));
  const response = await send('POST', path, body, token);
  if (response.status === 403) forgetToken();
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

/** The text to show for an error: the API's own words when it answered. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.text;
  if (error instanceof Error) return `The service did not answer: ${error.message}`;
  return String(error);
}
