import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginContext, SourceFile } from '../../src/core/plugin.js';
import { imapSource } from '../../src/plugins/sources/imap-source.js';
import { startImapServer, type ImapServer } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { composeMail } from '../helpers/mail-message.js';
import { memoryLogger } from '../helpers/mail-server.js';

/**
 * A loopback OAuth2 provider: a token endpoint that answers the refresh-token grant (RFC 6749 §6) for one
 * client and one refresh token, and an introspection endpoint (RFC 7662) that Dovecot asks about each
 * access token it is given over XOAUTH2.
 */
async function startOAuthProvider(o: { clientId: string; clientSecret: string; refreshToken: string }) {
  const issued = new Set<string>();
  const grants: Record<string, string>[] = [];
  const introspected: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.method === 'POST' && req.url === '/token') {
        grants.push(form);
        if (form.grant_type !== 'refresh_token') return json(400, { error: 'unsupported_grant_type' });
        if (form.client_id !== o.clientId || form.client_secret !== o.clientSecret)
          return json(401, { error: 'invalid_client' });
        if (form.refresh_token !== o.refreshToken)
          return json(400, {
            error: 'invalid_grant',
            error_description: 'Token has been expired or revoked.',
          });
        const token = `ya29.${randomBytes(24).toString('base64url')}`;
        issued.add(token);
        return json(200, {
          access_token: token,
          expires_in: 3599,
          token_type: 'Bearer',
          scope: 'https://mail.google.com/',
        });
      }
      if (req.method === 'POST' && req.url === '/introspect') {
        introspected.push(form.token ?? '');
        return json(
          200,
          issued.has(form.token ?? '') ? { active: true, username: 'etl' } : { active: false },
        );
      }
      json(404, { error: 'not_found' });
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    tokenUrl: `http://127.0.0.1:${port}/token`,
    introspectionUrl: `http://127.0.0.1:${port}/introspect`,
    issued,
    grants,
    introspected,
    /** Forget every token issued: Dovecot's next check of one says it is not active. */
    revokeAll: () => issued.clear(),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const client = {
  clientId: 'sluice-test.apps.example',
  clientSecret: 'client-secret-42',
  refreshToken: '1//refresh-abc',
};
let provider: Awaited<ReturnType<typeof startOAuthProvider>>;
let server: ImapServer;
let workRoot: string;
const logger = memoryLogger();

beforeAll(async () => {
  provider = await startOAuthProvider(client);
  server = await startImapServer({ oauth2IntrospectionUrl: provider.introspectionUrl });
  workRoot = await mkdtemp(path.join(os.tmpdir(), 'sluice-oauth2-test-'));
});

afterAll(async () => {
  // No secret reaches a log line.
  const logged = logger.lines.join('\n');
  for (const secret of [client.clientSecret, client.refreshToken, ...provider.issued])
    expect(logged).not.toContain(secret);
  await server?.stop();
  await provider?.stop();
  if (workRoot) await rm(workRoot, { recursive: true, force: true });
});

async function context(): Promise<PluginContext> {
  return {
    logger,
    signal: new AbortController().signal,
    workDir: await mkdtemp(path.join(workRoot, 'work-')),
  };
}

function options(box: string, auth: Record<string, unknown>) {
  return imapSource.options.parse({
    url: `imap://127.0.0.1:${server.port}/${box}`,
    auth: { type: 'oauth2', username: server.user, ...client, tokenUrl: provider.tokenUrl, ...auth },
    processedMailbox: `${box}-done`,
    errorMailbox: `${box}-error`,
    rules: [{ name: 'reports', subject: 'report', attachment: '\\.csv$' }],
  });
}

describe('imap source with OAuth2 (XOAUTH2)', () => {
  it('exchanges the refresh token for an access token and logs in with XOAUTH2, which Dovecot verifies', async () => {
    await server.deliver(
      await composeMail({ subject: 'OAuth report', attachments: [{ filename: 'o.csv', content: 'a\n1\n' }] }),
      'oauth1',
    );
    const session = await imapSource.open(options('oauth1', {}), await context());
    try {
      const files: SourceFile[] = [];
      for await (const f of session.list()) files.push(f);
      expect(files.map((f) => f.name)).toEqual(['20261103_o.csv']);
      await session.settle(files[0]!, 'loaded');
    } finally {
      await session.close();
    }
    expect(await server.list('oauth1-done')).toEqual(['OAuth report']);
    // One refresh-token grant with the client's credentials, and Dovecot checked exactly that access token.
    expect(provider.grants).toEqual([
      expect.objectContaining({
        grant_type: 'refresh_token',
        refresh_token: client.refreshToken,
        client_id: client.clientId,
        client_secret: client.clientSecret,
      }),
    ]);
    expect(provider.introspected).toHaveLength(1);
    expect(provider.issued.has(provider.introspected[0]!)).toBe(true);
  });

  it('says SOURCE_AUTH when the token endpoint refuses the refresh token, without echoing it', async () => {
    const error = await imapSource
      .open(options('oauth2', { refreshToken: '1//revoked-token' }), await context())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SOURCE_AUTH', where: 'source.auth' });
    expect((error as Error).message).toContain('invalid_grant');
    expect((error as Error).message).not.toContain('1//revoked-token');
  });

  it('says SOURCE_AUTH when the server refuses the access token', async () => {
    const before = provider.introspected.length;
    // The provider forgets each token as soon as it is issued: Dovecot's introspection says inactive.
    const original = provider.issued.add.bind(provider.issued);
    provider.issued.add = (_token: string) => provider.issued;
    try {
      const error = await imapSource.open(options('oauth3', {}), await context()).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SOURCE_AUTH' });
      expect((error as Error).message).toMatch(/refused the XOAUTH2 login of etl/);
    } finally {
      provider.issued.add = original;
    }
    expect(provider.introspected.length).toBe(before + 1);
  });

  it('says SOURCE_UNREACHABLE (retryable) when the token endpoint is down', async () => {
    const port = await freePort();
    const error = await imapSource
      .open(options('oauth4', { tokenUrl: `http://127.0.0.1:${port}/token` }), await context())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SOURCE_UNREACHABLE', retryable: true });
  });
});
