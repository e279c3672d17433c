import type { TestProject } from 'vitest/node';
import { ensurePostgres, type PostgresServer } from './postgres-server.js';

let server: PostgresServer | undefined;

/** Starts (or finds) the real servers the integration tests talk to, once for the whole run. */
export async function setup(project: TestProject) {
  server = await ensurePostgres();
  project.provide('pgAdminUrl', server.adminUrl);
}

export async function teardown() {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}
