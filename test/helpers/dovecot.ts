/**
 * A real Dovecot IMAP server on loopback for integration tests: a private instance with its own config,
 * base_dir, log, users file, mail store and port, run in the foreground so `stop()` can end it. Needs root
 * (Dovecot drops to the mail user `nobody`); installs dovecot-imapd when it is missing.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ImapFlow } from 'imapflow';
import { ensureDebianPackages } from './debian-packages.js';
import { freePort } from './free-port.js';
import { kill, launchServer } from './server-process.js';
import { writeSelfSignedCertificate } from './self-signed.js';

const run = promisify(execFile);
const DOVECOT = '/usr/sbin/dovecot';

export interface ImapServer {
  host: '127.0.0.1';
  /** Plain IMAP (STARTTLS offered when started with `tls`). */
  port: number;
  /** Implicit TLS, when started with `tls`. */
  imapsPort?: number;
  user: string;
  password: string;
  /** `imap://user@127.0.0.1:port/mailbox` (no password). */
  url(mailbox?: string): string;
  /** Appends a raw RFC 5322 message to the mailbox (INBOX by default), creating the mailbox when missing. */
  deliver(rawMessage: string | Buffer, mailbox?: string): Promise<void>;
  /** The subjects of the messages in a mailbox, in UID order; [] when the mailbox does not exist. */
  list(mailbox?: string): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Starts a private Dovecot; call `stop()` when done. With `tls`, a self-signed certificate (made with
 * openssl) serves STARTTLS on `port` and implicit TLS on `imapsPort`.
 */
export async function startImapServer(
  options: {
    tls?: boolean;
    /**
     * Also accept XOAUTH2 logins: Dovecot's oauth2 passdb POSTs each access token (`token=…`) to this URL
     * (RFC 7662 introspection) and takes the login when the answer is `{"active": true, "username": …}`.
     */
    oauth2IntrospectionUrl?: string;
  } = {},
): Promise<ImapServer> {
  if (process.platform !== 'linux') throw new Error('startImapServer runs Dovecot on Linux only');
  if (process.getuid?.() !== 0) {
    throw new Error(
      'startImapServer needs root (Dovecot switches to the mail user nobody). Run the integration tests ' +
        'as root, with dovecot-imapd installed (apt-get install -y dovecot-imapd).',
    );
  }
  await ensureDebianPackages(['dovecot-imapd'], DOVECOT);
  const { uid, gid } = await nobody();
  // Under /tmp: the mail user must be able to walk down to its mail store.
  const dir = await mkdtemp(path.join(existsSync('/tmp') ? '/tmp' : os.tmpdir(), 'sluice-dovecot-'));
  const user = 'etl';
  const password = randomBytes(12).toString('base64url');
  try {
    await chmod(dir, 0o755);
    const mail = path.join(dir, 'mail');
    await mkdir(mail);
    await chown(mail, uid, gid);
    await mkdir(path.join(dir, 'run'));
    const users = path.join(dir, 'users');
    await writeFile(users, `${user}:{PLAIN}${password}::::::\n`, { mode: 0o600 });
    // The auth process reads it as the unprivileged `dovecot` user.
    const auth = await idsOf('dovecot');
    if (auth) await chown(users, auth.uid, auth.gid);
    else await chmod(users, 0o644);
    const config = path.join(dir, 'dovecot.conf');
    const log = path.join(dir, 'dovecot.log');
    if (options.oauth2IntrospectionUrl !== undefined) {
      const ext = path.join(dir, 'oauth2.conf.ext');
      await writeFile(
        ext,
        [
          'introspection_mode = post',
          `introspection_url = ${options.oauth2IntrospectionUrl}`,
          'force_introspection = yes',
          'username_attribute = username',
          'active_attribute = active',
          'active_value = true',
          '',
        ].join('\n'),
      );
      if (auth) await chown(ext, auth.uid, auth.gid);
    }
    if (options.tls) writeSelfSignedCertificate(dir);

    let lastError: unknown;
    for (let attempt = 1; attempt <= 4; attempt++) {
      const port = await freePort();
      const imapsPort = options.tls ? await freePort() : undefined;
      await writeFile(config, configText(dir, port, imapsPort, options.oauth2IntrospectionUrl));
      try {
        const child = await launch(config, log, port);
        const connect = async (): Promise<ImapFlow> => {
          const { ImapFlow } = await import('imapflow');
          const client = new ImapFlow({
            host: '127.0.0.1',
            port,
            secure: false,
            auth: { user, pass: password },
            tls: { rejectUnauthorized: false },
            logger: false,
          });
          client.on('error', () => undefined);
          await client.connect();
          return client;
        };
        return {
          host: '127.0.0.1',
          port,
          ...(imapsPort !== undefined ? { imapsPort } : {}),
          user,
          password,
          url: (mailbox = 'INBOX') => `imap://${user}@127.0.0.1:${port}/${encodeURIComponent(mailbox)}`,
          async deliver(rawMessage, mailbox = 'INBOX') {
            const client = await connect();
            try {
              if (mailbox !== 'INBOX') await client.mailboxCreate(mailbox);
              await client.append(mailbox, rawMessage);
            } finally {
              await client.logout().catch(() => undefined);
            }
          },
          async list(mailbox = 'INBOX') {
            const client = await connect();
            try {
              const status = await client.status(mailbox, { messages: true }).catch(() => undefined);
              if (!status || !status.messages) return [];
              const lock = await client.getMailboxLock(mailbox);
              try {
                const messages = await client.fetchAll('1:*', { uid: true, envelope: true });
                return messages.sort((a, b) => a.uid - b.uid).map((m) => m.envelope?.subject ?? '');
              } finally {
                lock.release();
              }
            } finally {
              await client.logout().catch(() => undefined);
            }
          },
          async stop() {
            await kill(child);
            await rm(dir, { recursive: true, force: true });
          },
        };
      } catch (error) {
        lastError = error;
        if (!/Address already in use|bind/i.test(String(error))) break;
      }
    }
    throw lastError;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function configText(
  dir: string,
  port: number,
  imapsPort: number | undefined,
  introspectionUrl?: string,
): string {
  // XOAUTH2 only (no OAUTHBEARER), so that clients which prefer OAUTHBEARER still use XOAUTH2 here.
  const oauth2 =
    introspectionUrl === undefined
      ? ''
      : `passdb {
  driver = oauth2
  mechanisms = xoauth2
  args = ${dir}/oauth2.conf.ext
}
`;
  const ssl =
    imapsPort === undefined
      ? 'ssl = no'
      : `ssl = yes\nssl_cert = <${dir}/cert.pem\nssl_key = <${dir}/key.pem`;
  return `protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
log_path = ${dir}/dovecot.log
info_log_path = ${dir}/dovecot.log
${ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login${introspectionUrl === undefined ? '' : ' xoauth2'}
${oauth2}passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%u
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    port = ${port}
  }
  inet_listener imaps {
    port = ${imapsPort ?? 0}
  }
}
`;
}

/** Spawns `dovecot -F` and waits until it greets with `* OK`. */
function launch(config: string, log: string, port: number): Promise<ChildProcess> {
  return launchServer({
    name: 'dovecot',
    command: DOVECOT,
    args: ['-F', '-c', config],
    port,
    greeting: '* OK',
    log,
  });
}

async function idsOf(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const { stdout: uid } = await run('id', ['-u', name]);
    const { stdout: gid } = await run('id', ['-g', name]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    return undefined;
  }
}

async function nobody(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run('id', ['-u', 'nobody']);
  const { stdout: gid } = await run('getent', ['group', 'nogroup']);
  return { uid: Number(uid.trim()), gid: Number(gid.split(':')[2]) };
}
