import type { SecretPair } from '../../../core/secrets.js';
import type { HttpRequest } from '../../../connectors/http/http-client.js';
import type { AuthOptions } from './http-options.js';

/** The request with its credentials: an Authorization header, or the API key in a header or the query. */
export function authRequest(request: HttpRequest, auth: AuthOptions | undefined): HttpRequest {
  if (!auth) return request;
  const headers = { ...request.headers };
  let url = request.url;
  if (auth.type === 'bearer') headers.authorization = `Bearer ${auth.token}`;
  else if (auth.type === 'basic') headers.authorization = `Basic ${basic(auth.username, auth.password)}`;
  else if (auth.in === 'header') headers[auth.name.toLowerCase()] = auth.value;
  else {
    url = new URL(url);
    url.searchParams.set(auth.name, auth.value);
  }
  return { ...request, url, headers };
}

/** The credential, to mask in every log line and message (the masker knows its encodings). */
export function authSecrets(auth: AuthOptions | undefined): (string | SecretPair)[] {
  if (!auth) return [];
  if (auth.type === 'bearer') return [auth.token];
  if (auth.type === 'basic') return [{ username: auth.username, password: auth.password }];
  return [auth.value];
}

function basic(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}
