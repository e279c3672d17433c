/** What a connection's `url` option (`sftp://user@host:port/path`, `imaps://user@host/INBOX`) gives. */
export interface ServerUrl {
  /** Without the colon: `sftp`, `imaps`. */
  protocol: string;
  host?: string;
  port?: number;
  username?: string;
  /** Decoded, as in the URL (leading slash included); '' when there is none. */
  path: string;
}

export interface ServerUrlRules {
  /** The option as the user wrote it, for messages: `url`, `source.url`. */
  field: string;
  /** The protocols accepted, without the colon. */
  protocols: string[];
  /** A URL of the expected shape, shown when the text is not a URL. */
  example: string;
  /** The option that takes the password instead, for the message when the URL holds one. */
  passwordField: string;
}

/**
 * Parses a server URL, refusing another protocol, a password (it belongs in its own option, where it is
 * masked), a query or a fragment; throws an Error whose message names `rules.field`.
 */
export function parseServerUrl(text: string, rules: ServerUrlRules): ServerUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${rules.field} is not a valid URL; expected ${rules.example}`);
  }
  const protocol = url.protocol.replace(/:$/, '');
  if (!rules.protocols.includes(protocol)) {
    const allowed = rules.protocols.map((p) => `${p}://`).join(' or ');
    throw new Error(`${rules.field} must start with ${allowed} (not ${url.protocol}//)`);
  }
  if (url.password)
    throw new Error(`do not put the password in ${rules.field}: give it as ${rules.passwordField}`);
  if (url.search || url.hash) throw new Error(`${rules.field} must not have a query (?) or a fragment (#)`);
  const parsed: ServerUrl = { protocol, path: decodeURIComponent(url.pathname) };
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host) parsed.host = host;
  if (url.port) parsed.port = Number(url.port);
  if (url.username) parsed.username = decodeURIComponent(url.username);
  return parsed;
}
