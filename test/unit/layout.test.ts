import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// CONVENTIONS.md: imports go one way, and no plugin imports another plugin's module.
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** The top-level folders each layer may import from, besides itself. */
const ALLOWED: Record<string, string[]> = {
  core: [],
  connectors: ['core'],
  plugins: ['core', 'connectors'],
  store: ['core'],
  notify: ['core', 'store'],
  runner: ['core', 'store', 'notify'],
  scheduler: ['core', 'store', 'runner', 'notify'],
  server: ['core', 'store', 'runner', 'notify', 'scheduler', 'plugins', 'connectors'],
  cli: ['core', 'store', 'runner', 'notify', 'scheduler', 'server', 'plugins', 'connectors'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every relative import of the tree: [importer, imported], both relative to src/. */
function relativeImports(): [string, string][] {
  return sourceFiles(SRC).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    const found: [string, string][] = [];
    for (const match of text.matchAll(/(?:\bfrom|\bimport\(?)\s*'(\.[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), match[1]!).replace(/\.js$/, '.ts');
      found.push([path.relative(SRC, file), path.relative(SRC, target)]);
    }
    return found;
  });
}

const definesPlugin = (file: string) =>
  /\bdefine(Source|Parser|Loader|Check|Transform)\(/.test(readFileSync(path.join(SRC, file), 'utf8'));

describe('the layout of src/', () => {
  const imports = relativeImports();

  it('imports go one way', () => {
    const wrong = imports.filter(([from, to]) => {
      const [a, b] = [from.split(path.sep)[0]!, to.split(path.sep)[0]!];
      return a !== b && !(ALLOWED[a] ?? []).includes(b);
    });
    expect(wrong.map(([from, to]) => `${from} imports ${to}`)).toEqual([]);
  });

  it("no plugin imports another plugin's module (only the index files list them)", () => {
    const wrong = imports.filter(
      ([from, to]) =>
        from.startsWith(`plugins${path.sep}`) &&
        to.startsWith(`plugins${path.sep}`) &&
        path.basename(from) !== 'index.ts' &&
        definesPlugin(to),
    );
    expect(wrong.map(([from, to]) => `${from} imports ${to}`)).toEqual([]);
  });
});
