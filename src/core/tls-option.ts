import { z } from 'zod';

/** How a connection is protected, the same word for every protocol that may speak TLS (SMTP, IMAP…). */
export const SECURITY_MODES = ['starttls', 'tls', 'none'] as const;
export type Security = (typeof SECURITY_MODES)[number];

/**
 * The one TLS option, `security: starttls | tls | none`, described with the protocol's ports. `byDefault`
 * says what is used when it is left out (a fixed default, or one read from a URL).
 */
export function securityOption(ports: { starttls: number; tls: number }, byDefault: string) {
  return z
    .enum(SECURITY_MODES)
    .describe(
      `starttls: upgrade the plain connection before the login (port ${ports.starttls}), refusing a server ` +
        `that cannot; tls: TLS from the first byte (port ${ports.tls}); none: plain text, readable by anyone on the way. ` +
        byDefault,
    );
}
