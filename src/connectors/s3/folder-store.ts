import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore } from './object-store.js';

/**
 * A lake in a local folder: the embedded default. A file is written beside its final name and renamed into
 * place, so a reader never sees half of one; the pointer flip is one rename.
 */
export function createFolderStore(root: string): ObjectStore {
  const full = (key: string) => path.join(root, ...key.split('/'));
  const place = async (key: string, write: (tmp: string) => Promise<void>) => {
    const target = full(key);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.tmp`;
    try {
      await write(tmp);
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  };
  return {
    location: root,
    describe: (key) => full(key),
    putFile: (key, file) => place(key, (tmp) => copyFile(file, tmp)),
    putText: (key, text) => place(key, (tmp) => writeFile(tmp, text)),
    async get(key) {
      try {
        return await readFile(full(key));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async list(prefix) {
      const dir = full(prefix);
      let entries;
      try {
        entries = await readdir(dir, { recursive: true, withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
      return entries
        .filter((e) => e.isFile() && !e.name.endsWith('.tmp'))
        .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
        .sort();
    },
    copy: (from, to) => place(to, (tmp) => copyFile(full(from), tmp)),
    async delete(keys) {
      const folders = new Set<string>();
      for (const key of keys) {
        await rm(full(key), { force: true });
        for (let dir = path.dirname(full(key)); dir.startsWith(root + path.sep); dir = path.dirname(dir))
          folders.add(dir);
      }
      // Folders left empty go too (deepest first), as they would not exist in a bucket.
      for (const dir of [...folders].sort((a, b) => b.length - a.length))
        await rmdir(dir).catch(() => undefined);
    },
    async close() {},
  };
}
