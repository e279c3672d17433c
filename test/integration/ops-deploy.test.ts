import { execFile } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../helpers/pipeline-harness.js';

// The systemd units of deploy/ pass `systemd-analyze verify` (Debian's systemd package has it; where it is
// missing the check is skipped and says why). The units name /usr/bin/node: the copy checked here names
// the Node running the tests, so the check is about the units, not where this machine keeps node.

const run = promisify(execFile);
const ANALYZE = '/usr/bin/systemd-analyze';
const hasAnalyze = await access(ANALYZE).then(
  () => true,
  () => false,
);

describe('deploy/', () => {
  it.skipIf(!hasAnalyze)(
    'systemd-analyze verify accepts the units (skipped: no systemd-analyze here)',
    async () => {
      const dir = await tempDir('sluice-units-');
      const units: [string, string][] = [
        ['sluice-serve.service', 'sluice-serve.service'],
        ['sluice-worker@.service', 'sluice-worker@1.service'],
      ];
      for (const [from, to] of units) {
        const text = await readFile(path.join(REPO, 'deploy', from), 'utf8');
        await writeFile(path.join(dir, to), text.replaceAll('/usr/bin/node ', `${process.execPath} `));
      }
      const result = await run(ANALYZE, ['verify', ...units.map(([, to]) => path.join(dir, to))]).catch(
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      // Any warning (an unknown key, a key in the wrong section) is a defect too.
      expect(result.stderr).toBe('');
      expect('code' in result ? result.code : 0).toBe(0);
    },
  );

  it('the units are hardened, restart, and read the environment template', async () => {
    for (const unit of ['sluice-serve.service', 'sluice-worker@.service']) {
      const text = await readFile(path.join(REPO, 'deploy', unit), 'utf8');
      for (const line of [
        'User=sluice',
        'ProtectSystem=strict',
        'NoNewPrivileges=true',
        'Restart=on-failure',
        'EnvironmentFile=/etc/sluice/sluice.env',
      ])
        expect(text, unit).toContain(`\n${line}\n`);
    }
    const env = await readFile(path.join(REPO, 'deploy/sluice.env'), 'utf8');
    expect(env).toMatch(/^DATABASE_URL=/m);
  });

  it("the Dockerfile's build stage copies everything `npm run build` reads", async () => {
    // No docker engine in CI: what the build stage needs is checked against the build script instead.
    const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as {
      scripts: { build: string };
    };
    const read = [
      ...pkg.scripts.build.split(/\s+/).filter((t) => /\.(json|mjs)$/.test(t) && !t.startsWith('dist/')),
      'src', // the bundle's entry, src/cli/main.ts, and all it imports
      'tsconfig.json', // read by esbuild for the TypeScript options
      'package.json',
    ];
    const dockerfile = await readFile(path.join(REPO, 'deploy', 'Dockerfile'), 'utf8');
    const buildStage = dockerfile.slice(0, dockerfile.indexOf('FROM', dockerfile.indexOf('FROM') + 1));
    const copied = [...buildStage.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    for (const file of read) expect(copied, file).toContain(file.split('/')[0]);
  });
});
