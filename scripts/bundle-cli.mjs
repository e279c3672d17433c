// Part of `npm run build`: the `sluice` bin (dist/cli/main.js) as one bundle of Sluice's code and the
// pure-JavaScript packages every command loads (zod alone is ~100 files, yaml ~70). Node 20 has no compile
// cache: loading ~440 module files was ~0.3 s of every command (an empty `sluice run` 0.70 s -> 0.52 s).
//
// Each command's lazy import stays a chunk of its own (splitting), so `--help` loads no more than before.
// Chunks sit beside main.js in dist/cli/: code that finds files relative to itself (migrations, examples,
// the dashboard, package.json: all two folders under the repository) sees the same depth as under tsc.
// Any package not listed stays an import from node_modules, as under tsc: native addons, packages that read
// files beside their own code (PGlite's wasm), and the heavy ones only some commands load.
import { build } from 'esbuild';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath, URL } from 'node:url';

const BUNDLED = new Set([
  '@streamparser/json',
  'ansi-regex',
  'cli-progress',
  'commander',
  'emoji-regex',
  'fastest-levenshtein',
  'is-fullwidth-code-point',
  'pend',
  'pg',
  'pg-connection-string',
  'pg-copy-streams',
  'pg-int8',
  'pg-pool',
  'pg-protocol',
  'pg-types',
  'picomatch',
  'postgres-array',
  'postgres-bytea',
  'postgres-date',
  'postgres-interval',
  'saxes',
  'string-width',
  'strip-ansi',
  'xmlchars',
  'xtend',
  'yaml',
  'yauzl',
  'zod',
]);

const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const root = fileURLToPath(new URL('../', import.meta.url));
const outdir = `${root}dist/cli`;
// dist/ is this bundle and the dashboard (built after it): nothing of an earlier build stays, neither the
// chunks of the last bundle (their names carry a hash) nor the per-module output of builds before bundling.
await rm(`${root}dist`, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: '[name]-[hash]',
  sourcemap: 'linked',
  logLevel: 'warning',
  // pg, zod and picomatch read `navigator` to tell a browser or Cloudflare Workers from Node; on Node the
  // first read of that global loads Node's fetch implementation (undici), ~50 ms of `sluice runs` here.
  // Their fallbacks are the Node answers (process.platform, eval allowed, a TCP socket).
  define: { navigator: 'undefined' },
  // Bundled CommonJS packages call require() for Node's own modules, which an ES module lacks.
  banner: {
    js: "import { createRequire as sluiceCreateRequire } from 'node:module'; const require = sluiceCreateRequire(import.meta.url);",
  },
  plugins: [
    {
      // pg's stream.js then probes for Cloudflare Workers by constructing a `Response`: that global, too,
      // loads undici on its first touch (~25 ms of `sluice runs`). A local `Response` in that module alone
      // (undefined) gives the Node answer; code elsewhere keeps the real global.
      name: 'pg-without-cloudflare-probe',
      setup(bundle) {
        bundle.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => ({
          contents: `var Response;\n${await readFile(args.path, 'utf8')}`,
          loader: 'js',
        }));
      },
    },
    {
      // zod's `z` namespace carries `z.locales`, so every one of its 64 translations of the error messages
      // came into the bundle and was compiled at each start (~340 KB of zod's 755 KB chunk). Sluice speaks
      // English only: the namespace keeps `en`, the default zod registers by itself.
      name: 'zod-english-only',
      setup(bundle) {
        bundle.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
          contents: "export { default as en } from './en.js';\n",
          loader: 'js',
        }));
      },
    },
    {
      name: 'only-listed-packages',
      setup(bundle) {
        bundle.onResolve({ filter: /^[^./]/ }, (args) =>
          BUNDLED.has(packageOf(args.path)) && !args.path.startsWith('node:')
            ? undefined
            : { external: true },
        );
      },
    },
  ],
});

// esbuild writes code as ASCII (escaping the rest) but keeps some comments as they were: one "…" in a comment
// made V8 hold the whole 940 KB chunk as a two-byte string, decoded and scanned more slowly at every start
// (~5-10 ms). Such characters in line comments become '?', one UTF-16 unit for one, so columns (and the
// source maps) stay right.
for (const name of await readdir(outdir)) {
  if (!name.endsWith('.js')) continue;
  const file = `${outdir}/${name}`;
  const code = await readFile(file, 'utf8');
  if (!/[\u0080-\uffff]/.test(code)) continue;
  const ascii = code.replace(/^[ \t]*\/\/.*$/gm, (line) => line.replace(/[\u0080-\uffff]/g, '?'));
  if (ascii !== code) await writeFile(file, ascii);
}
