import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { inject } from 'vitest';

export interface TestMysqlDatabase {
  /** `mysql://…/name`: the URL a pipeline's `load.url` takes. */
  url: string;
  name: string;
  /** A connection to the database, for reading back what a test loaded. */
  query<R = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

/** A fresh database on the test MariaDB: each test file gets its own. */
export async function createTestMysqlDatabase(): Promise<TestMysqlDatabase> {
  const adminUrl = inject('mysqlAdminUrl');
  const name = `sluice_test_${randomBytes(6).toString('hex')}`;
  const admin = await mysql.createConnection({ uri: adminUrl });
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const conn = await mysql.createConnection({
    uri: url.toString(),
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  return {
    url: url.toString(),
    name,
    async query<R>(sql: string, values?: unknown[]) {
      return (await conn.query(sql, values))[0] as R[];
    },
    async drop() {
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}
