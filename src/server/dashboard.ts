import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ZodApp } from './app.js';

/**
 * The built dashboard: `npm run build` compiles `web/` into `dist/web/`. From `src/server/` (tests) and from
 * `dist/server/` (the installed bin) alike, that folder is `../../dist/web` of this file.
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** Where the dashboard's assets are served; `/` serves its index.html. Both are open (no token). */
export const DASHBOARD_PREFIX = '/web/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

// Pages load only what this origin serves, and no other site may frame them (the actions take a token).
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface Asset {
  body: Buffer;
  type: string;
}

/** Every file of the built dashboard, read once: a few small files (the index, one CSS, the modules). */
function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const type = TYPES[path.extname(entry.name)];
    if (!type) continue;
    const full = path.join(entry.parentPath, entry.name);
    assets.set(path.relative(dir, full).split(path.sep).join('/'), { body: readFileSync(full), type });
  }
  return assets;
}

/** Serves the dashboard at `/` and its assets under `/web/`, from the build in `dir`. */
export function registerDashboard(app: ZodApp, dir = DASHBOARD_DIR) {
  const assets = readAssets(dir);
  const index = assets.get('index.html');
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    if (!index)
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(`The dashboard is not built (no ${path.join(dir, 'index.html')}): run npm run build.\n`);
    return reply
      .headers(SECURITY_HEADERS)
      .header('cache-control', 'no-cache')
      .type(index.type)
      .send(index.body);
  });
  app.get(`${DASHBOARD_PREFIX}*`, { schema: { hide: true } }, async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    const asset = assets.get(name);
    if (!asset)
      return reply
        .code(404)
        .send({ error: { code: 'NOT_FOUND', message: `no dashboard file ${DASHBOARD_PREFIX}${name}` } });
    // Revalidated each load: the files change with each build and are small.
    return reply
      .headers(SECURITY_HEADERS)
      .header('cache-control', 'no-cache')
      .type(asset.type)
      .send(asset.body);
  });
}
