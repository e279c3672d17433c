import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Writes key.pem and cert.pem (self-signed for localhost, one day) into `dir` with openssl. Returns false
 * when openssl is not there (CI installs it; a test may skip itself then).
 */
export function writeSelfSignedCertificate(dir: string): boolean {
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'];
  try {
    execFileSync(
      'openssl',
      [...args, '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
      {
        stdio: 'ignore',
      },
    );
    return true;
  } catch {
    return false;
  }
}
