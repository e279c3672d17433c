import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, readdir, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt } from './bin.js';
import { REPO, tempDir } from './pipeline-harness.js';

const exec = promisify(execFile);

/** Runs git in `dir`; its output. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', args, { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/**
 * A fresh checkout of the repository as it is now (tracked and new files, uncommitted changes included),
 * committed in a git repository of its own, with the build in dist/ and the installed packages in
 * node_modules/ (linked, not copied): what a user has after `git clone` and `npm install`.
 */
export async function freshRepoCopy(): Promise<string> {
  await ensureBuilt();
  const dir = await tempDir('sluice-repo-copy-');
  const listed = (await git(REPO, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'))
    .split('\0')
    .filter(Boolean);
  for (const file of listed) {
    const from = path.join(REPO, file);
    if (!(await stat(from).catch(() => undefined))?.isFile()) continue; // deleted, not yet committed
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await copyFile(from, path.join(dir, file));
  }
  await git(dir, 'init', '-q');
  await git(dir, 'add', '-A');
  await git(dir, '-c', 'user.name=test', '-c', 'user.email=test@example.com', 'commit', '-qm', 'copy');
  await cp(path.join(REPO, 'dist'), path.join(dir, 'dist'), { recursive: true });
  // A real folder of links: `node_modules/` in .gitignore matches a folder, not a link.
  await mkdir(path.join(dir, 'node_modules'));
  for (const entry of await readdir(path.join(REPO, 'node_modules')))
    await symlink(path.join(REPO, 'node_modules', entry), path.join(dir, 'node_modules', entry));
  return dir;
}
