import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Two projects: unit tests need no server (`npm run test:unit` starts none); integration and conformance
// tests get the real PostgreSQL and MariaDB the global setup finds or starts.
export default defineConfig({
  test: {
    // Time limits catch hangs; they are generous so that a loaded machine does not fail a test.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // expect.poll waits for a condition; its default of 1 s is a timing assumption a busy machine breaks.
    expect: { poll: { timeout: 30_000 } },
    pool: 'forks',
    // vitest's default (cores - 1) runs the files one at a time on a two-core machine, where most of an
    // integration test's time is spent waiting on servers and child processes: two at a time at least.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/conformance/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
    ],
  },
});
