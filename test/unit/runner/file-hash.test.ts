import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256File } from '../../../src/runner/file-hash.js';
import { tempDir } from '../../helpers/pipeline-harness.js';

describe('sha256File', () => {
  it('hashes files of every size around its 1 MB buffer as one piece would', async () => {
    const dir = await tempDir('sluice-hash-');
    const MB = 1 << 20;
    for (const size of [0, 1, MB - 1, MB, MB + 1, 3 * MB + 17]) {
      const bytes = randomBytes(size);
      const file = path.join(dir, `f${size}`);
      await writeFile(file, bytes);
      expect(await sha256File(file), `${size} bytes`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('fails on a file that is not there', async () => {
    await expect(sha256File(path.join(await tempDir('sluice-hash-'), 'missing'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
