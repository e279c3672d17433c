import type { TestProject } from 'vitest/node';
import { ensureMariadb, type MariadbServer } from './mariadb-server.js';
import { ensurePostgres, type PostgresServer } from './postgres-server.js';

let server: PostgresServer | undefined;
let mariadb: MariadbServer | undefined;

/** Starts (or finds) the real servers the integration tests talk to, once for the whole run. */
export async function setup(project: TestProject) {
  server = await ensurePostgres();
  project.provide('pgAdminUrl', server.adminUrl);
  mariadb = await ensureMariadb();
  project.provide('mysqlAdminUrl', mariadb.adminUrl);
}

export async function teardown() {
  await server?.stop();
  await mariadb?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    mysqlAdminUrl: string;
  }
}
