import { z } from 'zod';
import { pathOption } from '../../core/path-option.js';

// The host key pinning every SFTP plugin offers (the sftp source and the sftp loader): one way to write a
// fingerprint, and one reading of it.

/** `ssh-keygen -lf` prints `SHA256:` and 43 base64 characters (the padding dropped). */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

const fingerprint = z
  .string()
  .regex(FINGERPRINT, 'a SHA256 fingerprint as `ssh-keygen -lf` prints it (SHA256: then 43 characters)');

/** One trusted host key fingerprint, or several (a server with several key types, a key rotation). */
export const hostKeySchema = z.union([fingerprint, z.array(fingerprint).min(1)]);

/** The fingerprints to trust, as `connectSftp` compares them (without base64 padding). */
export function pinnedFingerprints(hostKey: string | string[] | undefined): string[] {
  return (hostKey === undefined ? [] : [hostKey].flat()).map((k) => k.replace(/=+$/, ''));
}

/** How an SFTP plugin logs in besides its user name: the fields the source and the loader share. */
export const sftpCredentialOptions = {
  password: z
    .string()
    .optional()
    .describe('Password (secret: take it from the environment, ${SFTP_PASSWORD}).'),
  privateKey: z
    .string()
    .optional()
    .describe('Private key for key authentication, as PEM/OpenSSH text (secret).'),
  privateKeyPath: pathOption()
    .optional()
    .describe('Private key for key authentication, read from this local file.'),
  passphrase: z.string().optional().describe('Passphrase of an encrypted private key (secret).'),
};
