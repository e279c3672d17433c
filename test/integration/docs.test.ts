import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/pipeline-harness.js';
import { freshRepoCopy, git } from '../helpers/repo-copy.js';
import { runBlocks, runnableBlocks, strayMarkers } from '../helpers/runnable-docs.js';

/**
 * The user guides run as written: every shell block of README.md and docs/*.md marked runnable (a
 * `<!-- runnable -->` line right above its fence; test/helpers/runnable-docs.ts says how they run) runs in
 * a fresh copy of the repository on the embedded database, README.md first and then the guides in name
 * order, in one copy, as a reader would go through them; afterwards `git status` is clean.
 */
async function guides(): Promise<string[]> {
  const docs = (await readdir(path.join(REPO, 'docs'))).filter((f) => f.endsWith('.md')).sort();
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

/** Everything a user reads: the guides and the examples' READMEs. */
async function userDocs(): Promise<string[]> {
  const examples = (await readdir(path.join(REPO, 'examples'), { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => `examples/${e.name}/README.md`);
  return [...(await guides()), ...examples];
}

describe('user docs', () => {
  it('speak to users: no internal references (issue or seed numbers)', async () => {
    for (const file of await userDocs()) {
      const text = await readFile(path.join(REPO, file), 'utf8').catch(() => '');
      const found = text.match(/\b(?:issues?|seeds?)\s+#?\d+(?:\s*(?:,|and)\s*\d+)*/gi) ?? [];
      expect(found, file).toEqual([]);
    }
  });

  it('mark only shell blocks as runnable', async () => {
    for (const file of await userDocs()) {
      const text = await readFile(path.join(REPO, file), 'utf8').catch(() => '');
      expect(strayMarkers(text, file)).toEqual([]);
    }
  });

  describe('their runnable commands, in a fresh copy on the embedded database', () => {
    let copy: string;
    let home: string;
    beforeAll(async () => {
      copy = await freshRepoCopy();
      home = await tempDir('sluice-home-');
    });
    afterAll(async () => {
      await rm(copy, { recursive: true, force: true });
      await rm(home, { recursive: true, force: true });
    });

    it('README.md installs the command and its quick start runs', { timeout: 600_000 }, async () => {
      const blocks = runnableBlocks(await readFile(path.join(copy, 'README.md'), 'utf8'), 'README.md');
      expect(blocks.map((b) => b.code).join('\n')).toContain(
        'ln -sf "$PWD/dist/cli/main.js" ~/.local/bin/sluice',
      );
      const result = await runBlocks(blocks, { cwd: copy, home });
      expect(result.code, result.output).toBe(0);
      expect(result.output).toMatch(/files: 3 loaded, 0 skipped, 1 rejected/);
      expect(result.output).toMatch(/RUN\s+STARTED\s+PIPELINE/);
      expect(result.output).not.toMatch(/\n\s+at .+:\d+:\d+/);
    });

    it('the guides in docs/ run as written', { timeout: 600_000 }, async () => {
      for (const file of (await guides()).slice(1)) {
        const blocks = runnableBlocks(await readFile(path.join(copy, file), 'utf8'), file);
        if (blocks.length === 0) continue;
        const result = await runBlocks(blocks, { cwd: copy, home });
        expect(result.code, `${file}:\n${result.output}`).toBe(0);
        expect(result.output, file).not.toMatch(/\n\s+at .+:\d+:\d+/);
      }
    });

    it('leave the repository as it was', async () => {
      expect(await git(copy, 'status', '--porcelain')).toBe('');
    });
  });
});
