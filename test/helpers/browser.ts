import { rm } from 'node:fs/promises';
import { chromium, type BrowserContext } from 'playwright-core';
import { ensureDebianPackages } from './debian-packages.js';
import { tempDir } from './pipeline-harness.js';

export const CHROMIUM = '/usr/bin/chromium';

/** A headless Debian chromium driven by playwright-core, with a profile of its own that `close` removes. */
export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Starts Debian's chromium (installed with apt-get when missing). Nothing reaches the network on its own:
 * no QUIC, no background requests, no component or sync updates; no sandbox (tests run as root).
 */
export async function launchBrowser(): Promise<TestBrowser> {
  await ensureDebianPackages(['chromium'], CHROMIUM);
  const profile = await tempDir('sluice-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
