import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Writes key.pem and cert.pem (self-signed for localhost, one day) into `dir` with openssl. Throws, saying
 * how to install it, when openssl is missing: a TLS test never skips itself (CI installs openssl).
 */
export function writeSelfSignedCertificate(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'];
  try {
    execFileSync('openssl', [...args, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  } catch (error) {
    throw new Error(
      `openssl could not make a test certificate (${(error as NodeJS.ErrnoException).code ?? String(error)}): apt-get install openssl`,
    );
  }
  return { key, cert };
}
