import { z } from 'zod';

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
