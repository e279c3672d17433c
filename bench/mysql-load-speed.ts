/**
 * The mysql loader's two ways of writing, on 100k rows of 6 columns (id, text, e-mail, timestamp, integer,
 * text with quotes and a backslash) into MariaDB: LOAD DATA LOCAL INFILE against batched multi-row INSERT,
 * for append into an empty table and for merge (upsert) of every row. Each figure is one unit in one MySQL
 * transaction, marker included.
 *
 *   SLUICE_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/ node --import tsx bench/mysql-load-speed.ts [rows]
 */
import mysql from 'mysql2/promise';
import type { LoadUnit, PluginContext } from '../src/core/plugin.js';
import type { RecordBatch } from '../src/core/records.js';
import type { SqlClient } from '../src/core/sql.js';
import { mysqlLoader } from '../src/plugins/loaders/mysql/mysql-loader.js';

const rows = Number(process.argv[2] ?? 100_000);
const admin = process.env.SLUICE_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';
const database = `sluice_bench_${process.pid}`;
const columns = [
  { name: 'id', type: 'integer' as const },
  { name: 'name' },
  { name: 'email' },
  { name: 'at', type: 'timestamp' as const },
  { name: 'n', type: 'integer' as const },
  { name: 'comment' },
];

async function* batches(version: string): AsyncIterable<RecordBatch> {
  for (let start = 0; start < rows; start += 10_000) {
    const part: string[][] = [];
    for (let i = start; i < Math.min(rows, start + 10_000); i++)
      part.push([
        String(i),
        `name ${i} ${version}`,
        `user${i}@example.com`,
        '2026-11-01 10:00:00',
        String(i % 97),
        `"x" 'y' \\ ${i}`,
      ]);
    yield { columns, rows: part, origin: 'bench.csv', lines: part.map((_, k) => start + k + 2) };
  }
}

const context: PluginContext = {
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  signal: new AbortController().signal,
  workDir: '/tmp',
};
const noTx = undefined as unknown as SqlClient; // the mysql loader does not use the control plane's client

const conn = await mysql.createConnection({ uri: admin });
await conn.query(`CREATE DATABASE ${database}`);
const url = `${admin.replace(/\/$/, '')}/${database}`;
try {
  for (const method of ['loadData', 'insert'] as const) {
    for (const mode of ['append', 'merge'] as const) {
      const table = `${method}_${mode}`;
      const session = await mysqlLoader.open(
        mysqlLoader.options.parse({ url, table, method, mode, keys: mode === 'merge' ? ['id'] : [] }),
        context,
      );
      const times: number[] = [];
      // Merge: the first load inserts every row, the second updates every row.
      for (const version of mode === 'merge' ? ['v1', 'v2'] : ['v1']) {
        const unit: LoadUnit = {
          runId: 'bench',
          asOf: '2026-11-27',
          origin: 'bench.csv',
          key: `${table}-${version}`,
          firstOfRun: true,
        };
        const t0 = performance.now();
        await session.load(noTx, batches(version), unit);
        times.push(performance.now() - t0);
      }
      const label = mode === 'merge' ? 'merge (insert, then update all)' : 'append';
      console.log(
        `${method.padEnd(8)} ${label.padEnd(32)} ${times.map((t) => `${(t / 1000).toFixed(2)} s (${Math.round(rows / (t / 1000)).toLocaleString('en')} rows/s)`).join(', ')}`,
      );
    }
  }
} finally {
  await conn.query(`DROP DATABASE ${database}`);
  await conn.end();
}
