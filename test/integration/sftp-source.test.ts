import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import type { FileSourceSession, PluginContext, SourceFile } from '../../src/core/plugin.js';
import { sftpSource } from '../../src/plugins/sources/sftp-source.js';
import { startSftpServer, type SftpServer } from '../helpers/sshd.js';
import { startProxy } from '../helpers/tcp-proxy.js';

const run = promisify(execFile);
const WRONG_PASSWORD = 'not-the-Right-pw-93x';

let server: SftpServer;
let workRoot: string;
const sessions: FileSourceSession[] = [];
/** Every message any test's logger received, checked for secrets at the end. */
const allMessages: string[] = [];

beforeAll(async () => {
  server = await startSftpServer();
  workRoot = await mkdtemp(path.join(os.tmpdir(), 'sluice-sftp-test-'));
});

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await server?.stop();
  if (workRoot) await rm(workRoot, { recursive: true, force: true });
});

let folders = 0;
/** A fresh remote folder (under the server's root) holding the given files. */
async function remoteFolder(files: Record<string, string | Buffer> = {}): Promise<string> {
  const dir = path.join(server.root, `case${++folders}`);
  await mkdir(dir);
  await chmod(dir, 0o777); // the sftp user deletes and moves files here
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}

async function context(): Promise<PluginContext & { messages: string[] }> {
  const messages: string[] = [];
  const log = (level: string) => (message: string, data?: Record<string, unknown>) => {
    const line = `${level} ${message}${data ? ` ${JSON.stringify(data)}` : ''}`;
    messages.push(line);
    allMessages.push(line);
  };
  return {
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    signal: new AbortController().signal,
    workDir: await mkdtemp(path.join(workRoot, 'work-')),
    messages,
  };
}

/** Opens the source on `dir`; files are taken as listed (stableFor: 0s) unless `extra` says otherwise. */
async function open(dir: string, extra: Record<string, unknown> = {}, ctx?: PluginContext) {
  const session = await sftpSource.open(
    sftpSource.options.parse({
      url: server.url(dir),
      password: server.password,
      hostKey: server.hostKeyFingerprint,
      stableFor: '0s',
      ...extra,
    }),
    ctx ?? (await context()),
  );
  sessions.push(session);
  return session;
}

async function listAll(session: FileSourceSession): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for await (const file of session.list()) files.push(file);
  return files;
}

/** The error `fn` throws, which must be a SluiceError; checked for secrets on the way. */
async function failure(fn: () => Promise<unknown>): Promise<SluiceError> {
  const error = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceError);
  const sluiceError = error as SluiceError;
  for (const secret of [server.password, WRONG_PASSWORD]) {
    expect(sluiceError.message).not.toContain(secret);
    expect(sluiceError.hint ?? '').not.toContain(secret);
  }
  return sluiceError;
}

describe('sftp source against OpenSSH', () => {
  it('lists the regular files matching the glob, sorted by name', async () => {
    const dir = await remoteFolder({
      'b.csv': 'b,2\n',
      'a.csv': 'a,1\n',
      'notes.txt': 'x',
      '.hidden.csv': 'h',
    });
    await mkdir(path.join(dir, 'folder.csv')); // a folder whose name matches is not a file
    const session = await open(dir, { glob: '*.csv' });

    const files = await listAll(session);
    expect(files.map((f) => f.name)).toEqual(['a.csv', 'b.csv']);
    expect(files.map((f) => f.id)).toEqual([path.join(dir, 'a.csv'), path.join(dir, 'b.csv')]);
    expect(files[0]?.size).toBe(4);
    expect(files[0]?.modifiedAt).toBeInstanceOf(Date);
    expect(session.location).toBe(`sftp://${server.username}@127.0.0.1:${server.port}${dir}`);
  });

  it('fetches a byte-identical temporary copy into the work folder', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 17); // several fastGet chunks
    const dir = await remoteFolder({ 'big.bin': content, 'empty.csv': '' });
    const ctx = await context();
    const session = await open(dir, {}, ctx);
    const [big, empty] = await listAll(session);
    expect(big?.name).toBe('big.bin');

    const fetched = await session.fetch(big!);
    expect(fetched.temporary).toBe(true);
    expect(fetched.size).toBe(content.length);
    expect(path.basename(fetched.path)).toBe('big.bin');
    expect(path.relative(ctx.workDir, fetched.path).startsWith('..')).toBe(false);
    expect((await readFile(fetched.path)).equals(content)).toBe(true);
    expect((await stat(path.join(dir, 'big.bin'))).size).toBe(content.length); // still at the source (keep)

    const fetchedEmpty = await session.fetch(empty!);
    expect(fetchedEmpty.size).toBe(0);
    expect(await readFile(fetchedEmpty.path, 'utf8')).toBe('');

    const leftovers = (await readdir(ctx.workDir, { recursive: true })).filter((f) => f.endsWith('.part'));
    expect(leftovers).toEqual([]);
  });

  it('logs in with a private key file, or key text, without a password', async () => {
    const dir = await remoteFolder({ 'k.csv': 'k\n' });
    const byPath = await open(dir, { password: undefined, privateKeyPath: server.privateKeyPath });
    expect((await listAll(byPath)).map((f) => f.name)).toEqual(['k.csv']);

    const byText = await open(dir, {
      password: undefined,
      privateKey: await readFile(server.privateKeyPath, 'utf8'),
    });
    expect((await listAll(byText)).map((f) => f.name)).toEqual(['k.csv']);
  });

  it('logs in with host, port, username and path given apart from a url', async () => {
    const dir = await remoteFolder({ 'p.csv': 'p\n' });
    const session = await sftpSource.open(
      sftpSource.options.parse({
        host: '127.0.0.1',
        port: String(server.port), // as it comes from an environment variable
        username: server.username,
        path: dir,
        password: server.password,
        hostKey: [`SHA256:${'A'.repeat(43)}`, server.hostKeyFingerprint],
      }),
      await context(),
    );
    sessions.push(session);
    expect((await listAll(session)).map((f) => f.name)).toEqual(['p.csv']);
  });

  it('deletes a loaded file at the source with onLoad: delete', async () => {
    const dir = await remoteFolder({ 'gone.csv': 'x\n', 'stays.csv': 'y\n' });
    const session = await open(dir, { onLoad: 'delete' });
    const [gone] = await listAll(session);
    await session.fetch(gone!);
    expect(await session.settle(gone!, 'loaded')).toBe('deleted at the source');
    expect((await readdir(dir)).sort()).toEqual(['stays.csv']);
  });

  it('moves loaded files into processedDir, creating it, and renames on a clash', async () => {
    const dir = await remoteFolder({ 'day.csv': 'first\n' });
    const session = await open(dir, { onLoad: 'move', processedDir: 'done/2024' });

    const [first] = await listAll(session);
    expect(await session.settle(first!, 'loaded')).toBe('moved to done/2024/day.csv');
    expect(await readdir(dir)).toEqual(['done']);
    expect(await readdir(path.join(dir, 'done', '2024'))).toEqual(['day.csv']);

    await writeFile(path.join(dir, 'day.csv'), 'second\n'); // the same name delivered again
    const [second] = await listAll(session);
    await session.settle(second!, 'skipped');

    const moved = (await readdir(path.join(dir, 'done', '2024'))).sort();
    expect(moved).toHaveLength(2);
    expect(moved).toContain('day.csv');
    const renamed = moved.find((n) => n !== 'day.csv')!;
    expect(renamed).toMatch(/^day_\d{8}T\d{6}Z(_\d+)?\.csv$/);
    expect(await readFile(path.join(dir, 'done', '2024', 'day.csv'), 'utf8')).toBe('first\n');
    expect(await readFile(path.join(dir, 'done', '2024', renamed), 'utf8')).toBe('second\n');
    expect(await readdir(dir)).toEqual(['done']);
  });

  it('moves a rejected file into rejected/ and keeps a loaded one by default', async () => {
    const dir = await remoteFolder({ 'bad.csv': 'oops\n', 'good.csv': 'ok\n' });
    const session = await open(dir);
    const files = await listAll(session);
    await session.settle(
      files.find((f) => f.name === 'bad.csv')!,
      'rejected',
    );
    await session.settle(
      files.find((f) => f.name === 'good.csv')!,
      'loaded',
    );
    expect((await readdir(dir)).sort()).toEqual(['good.csv', 'rejected']);
    expect(await readFile(path.join(dir, 'rejected', 'bad.csv'), 'utf8')).toBe('oops\n');
  });

  it('refuses a host key that is not the pinned one, naming the real fingerprint', async () => {
    const dir = await remoteFolder();
    const wrong = `SHA256:${'x'.repeat(43)}`;
    const error = await failure(() => open(dir, { hostKey: wrong }));
    expect(error.code).toBe('SOURCE_AUTH');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(server.hostKeyFingerprint);
    expect(error.message).toContain(`source.hostKey: ${server.hostKeyFingerprint}`);
  });

  it('refuses an unpinned host key unless allowUnknownHostKey', async () => {
    const dir = await remoteFolder({ 'u.csv': 'u\n' });
    const error = await failure(() => open(dir, { hostKey: undefined }));
    expect(error.code).toBe('SOURCE_AUTH');
    expect(error.message).toContain(`source.hostKey: ${server.hostKeyFingerprint}`);

    const ctx = await context();
    const session = await open(dir, { hostKey: undefined, allowUnknownHostKey: true }, ctx);
    expect((await listAll(session)).map((f) => f.name)).toEqual(['u.csv']);
    expect(ctx.messages.some((m) => m.startsWith('warn') && m.includes(server.hostKeyFingerprint))).toBe(
      true,
    );
  });

  it('reports a wrong password as SOURCE_AUTH', async () => {
    const dir = await remoteFolder();
    const error = await failure(() => open(dir, { password: WRONG_PASSWORD }));
    expect(error.code).toBe('SOURCE_AUTH');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(server.username);
  });

  it('reports a closed port as SOURCE_UNREACHABLE, retryable', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const error = await failure(() =>
      sftpSource.open(
        sftpSource.options.parse({
          url: `sftp://${server.username}@127.0.0.1:${closedPort}/tmp`,
          password: server.password,
          hostKey: server.hostKeyFingerprint,
          connectTimeout: '5s',
        }),
        {
          logger: { debug() {}, info() {}, warn() {}, error() {} },
          signal: new AbortController().signal,
          workDir: workRoot,
        },
      ),
    );
    expect(error.code).toBe('SOURCE_UNREACHABLE');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(String(closedPort));
  });

  it('gives up on a server that never completes the handshake after connectTimeout, retryable', async () => {
    const silent = net.createServer(() => {}); // accepts, never speaks SSH
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const error = await failure(() =>
        open('/tmp', { url: `sftp://${server.username}@127.0.0.1:${port}/tmp`, connectTimeout: '1s' }),
      );
      expect(error.code).toBe('SOURCE_UNREACHABLE');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain('did not complete the SSH handshake within 1s');
    } finally {
      silent.close();
    }
  });

  it('stops connecting when the run is aborted', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const abort = new AbortController();
      const ctx = { ...(await context()), signal: abort.signal };
      setTimeout(() => abort.abort(), 200);
      const error = await failure(() =>
        open('/tmp', { url: `sftp://${server.username}@127.0.0.1:${port}/tmp`, connectTimeout: '30s' }, ctx),
      );
      expect(error.code).toBe('ABORTED');
    } finally {
      silent.close();
    }
  });

  it('reports a missing remote folder as SOURCE_UNREACHABLE', async () => {
    const error = await failure(() => open(path.join(server.root, 'no-such-folder')));
    expect(error.code).toBe('SOURCE_UNREACHABLE');
    expect(error.message).toContain('no-such-folder');
  });

  it('validates its options', () => {
    expect(sftpSource.options.safeParse({ password: 'x' }).success).toBe(false); // neither url nor host+path
    expect(sftpSource.options.safeParse({ host: 'h', path: '/in' }).success).toBe(false); // no user
    expect(sftpSource.options.safeParse({ url: 'sftp://u@h/in', hostKey: 'MD5:aa' }).success).toBe(false);
    expect(sftpSource.options.safeParse({ url: 'https://u@h/in' }).success).toBe(false);
    const withPassword = sftpSource.options.safeParse({ url: `sftp://u:${server.password}@h/in` });
    expect(withPassword.success).toBe(false);
    expect(JSON.stringify(withPassword.error?.issues)).not.toContain(server.password);

    const parsed = sftpSource.options.parse({ url: 'sftp://u@h/in' });
    expect(parsed).toMatchObject({
      glob: '*',
      connectTimeout: 20_000,
      stableFor: 2_000,
      minAge: 600_000,
      allowUnknownHostKey: false,
      onLoad: 'keep',
      onReject: 'move',
    });
  });

  it('says what it does not take: a name that is not UTF-8, a dangling link, a pipe; follows a link to a file', async () => {
    const dir = await remoteFolder({ 'ok.csv': 'ok\n', 'notes.txt': 'x' });
    await writeFile(
      Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.csv')]),
      'c\n',
    );
    await writeFile(path.join(server.root, `target${folders}.csv`), 'linked\n');
    await symlink(path.join(server.root, `target${folders}.csv`), path.join(dir, 'linked.csv'));
    await symlink(path.join(dir, 'missing.csv'), path.join(dir, 'dangling.csv'));
    await mkdir(path.join(dir, 'sub.csv'));
    await run('mkfifo', [path.join(dir, 'pipe.csv')]);
    const ctx = await context();
    const session = await open(dir, { glob: '*.csv' }, ctx);
    const files = await listAll(session);
    expect(files.map((f) => f.name)).toEqual(['linked.csv', 'ok.csv']);
    expect(files[0]!.size).toBe('linked\n'.length); // the file's, not the link's
    expect(await readFile((await session.fetch(files[0]!)).path, 'utf8')).toBe('linked\n');
    const warnings = ctx.messages.filter((m) => m.startsWith('warn'));
    expect(warnings).toEqual([
      expect.stringMatching(
        /^warn caf\uFFFD\.csv: the name is not valid UTF-8, so this file cannot be read over SFTP; not loaded\./,
      ),
      'warn dangling.csv is a symbolic link to nothing that can be read: not loaded',
      'warn pipe.csv is not a regular file (a pipe, socket or device): not loaded',
    ]);
    expect(ctx.messages).toContainEqual(
      expect.stringMatching(
        /^debug .*not taken: 1 name the glob leaves out \(notes\.txt\); 1 folder \(sub\.csv\)$/,
      ),
    );
  });

  it('reconnects when the connection is cut during a download, instead of reusing the dead session', async () => {
    const content = randomBytes(2 * 1024 * 1024);
    const dir = await remoteFolder({ 'big.bin': content, 'next.bin': 'n' });
    const proxy = await startProxy(server.port);
    try {
      const ctx = await context();
      const viaProxy = { url: `sftp://${server.username}@127.0.0.1:${proxy.port}${dir}` };
      const session = await open(dir, viaProxy, ctx);
      const [big, next] = await listAll(session);

      proxy.cutAfter(256 * 1024, { once: true });
      const fetched = await session.fetch(big!);
      expect(proxy.cuts).toBe(1);
      expect((await readFile(fetched.path)).equals(content)).toBe(true);
      expect(ctx.messages).toContainEqual(
        expect.stringMatching(
          /^warn the connection to .* was lost while downloading .*big\.bin.*; reconnecting$/,
        ),
      );
      expect(ctx.messages).toContainEqual(expect.stringMatching(/^info reconnecting to sftp:/));

      // Cut on every connection: the download fails as retryable; once the network is back, the next try
      // (the runner's retry) reconnects rather than failing with "No SFTP connection available".
      proxy.cutAfter(64 * 1024);
      const lost = await failure(() => session.fetch(big!));
      expect(lost).toMatchObject({ code: 'SOURCE_UNREACHABLE', retryable: true });
      proxy.cutAfter(Infinity);
      expect(await readFile((await session.fetch(next!)).path, 'utf8')).toBe('n');
      await session.settle(next!, 'loaded'); // keep: nothing to do, but on a live session
    } finally {
      await proxy.stop();
    }
  });

  it('names the type of the key a server with several presents, so the right line can be pinned', async () => {
    const several = await startSftpServer({ hostKeyTypes: ['rsa', 'ecdsa', 'ed25519'] });
    try {
      const dir = path.join(several.root, 'keys');
      await mkdir(dir);
      await chmod(dir, 0o777);
      const options = { url: several.url(dir), password: several.password, stableFor: '0s' };
      const refused = await failure(() =>
        sftpSource.open(sftpSource.options.parse({ ...options, hostKey: several.hostKeyFingerprints.rsa }), {
          logger: { debug() {}, info() {}, warn() {}, error() {} },
          signal: new AbortController().signal,
          workDir: workRoot,
        }),
      );
      expect(refused.code).toBe('SOURCE_AUTH');
      expect(refused.message).toContain(
        `presented its ssh-ed25519 key ${several.hostKeyFingerprints.ed25519}`,
      );
      const session = await sftpSource.open(
        sftpSource.options.parse({ ...options, hostKey: several.hostKeyFingerprints.ed25519 }),
        await context(),
      );
      sessions.push(session);
      expect(await listAll(session)).toEqual([]);
    } finally {
      await several.stop();
    }
  });

  it('never puts the password in a log message', () => {
    expect(allMessages.length).toBeGreaterThan(0);
    for (const message of allMessages) {
      expect(message).not.toContain(server.password);
      expect(message).not.toContain(WRONG_PASSWORD);
    }
  });
});
