// Part of `npm run build`: copies the dashboard's page and stylesheet beside its compiled modules.
import { copyFileSync, mkdirSync } from 'node:fs';
import { URL } from 'node:url';

const from = new URL('./', import.meta.url);
const to = new URL('../dist/web/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const name of ['index.html', 'style.css']) copyFileSync(new URL(name, from), new URL(name, to));
