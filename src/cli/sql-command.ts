import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { isSluiceError, SluiceError } from '../core/errors.js';
import { sluiceHome } from '../store/connect.js';
import { openSqlConsole, type SqlConsole, type StatementResult } from '../store/sql-console.js';
import { formatTable, plural } from './format.js';
import { EXIT, requireEmbeddedDatabase, withStore } from './shared.js';
import { positionInScript, splitStatements, type Statement } from './sql-statements.js';

interface SqlFlags {
  json?: boolean;
  csv?: boolean;
}

export function registerSql(program: Command, exit: (code: number) => void) {
  program
    .command('sql')
    .description("Run SQL on Sluice's database (embedded or DATABASE_URL) and print the result")
    .argument(
      '[statements]',
      'SQL to run (several statements run in one transaction); without it, read from stdin',
    )
    .option('--json', 'print the rows of the last statement as a JSON array of objects')
    .option('--csv', 'print the rows of the last statement as CSV with a header line')
    .addHelpText(
      'after',
      `
Examples:
  sluice sql "SELECT pipeline, status, rows_loaded FROM sluice.runs ORDER BY started_at DESC LIMIT 5"
  sluice sql --csv "SELECT * FROM sluice.rejects" > rejects.csv
  sluice sql < queries.sql     # statements from a file, one after the other; stops at the first error
  sluice sql                   # on a terminal: type statements ending with ; (Ctrl-D to leave)`,
    )
    .action(async (statements: string | undefined, flags: SqlFlags) => {
      if (flags.json && flags.csv) throw new SluiceError('CONFIG_INVALID', 'give --json or --csv, not both');
      const home = sluiceHome();
      const databaseUrl = process.env.DATABASE_URL;
      // Sluice's tables first (a server database may be new); an embedded one got them when it was made.
      if (databaseUrl) await withStore(async () => undefined);
      else await requireEmbeddedDatabase(home);
      const session = await openSqlConsole({ home, ...(databaseUrl ? { databaseUrl } : {}) });
      try {
        if (statements !== undefined) exit(await runScript(session, statements, flags));
        else if (process.stdin.isTTY) await interactive(session, flags);
        else exit(await runStdin(session, flags));
      } finally {
        await session.close();
      }
    });
}

/** The SQL given as an argument: sent as it is, every result printed (the last one only with --json/--csv). */
async function runScript(session: SqlConsole, sql: string, flags: SqlFlags): Promise<number> {
  try {
    printResults(await session.run(sql), flags);
    return EXIT.ok;
  } catch (error) {
    process.stderr.write(`sluice: ${sqlErrorLine(error, sql, { sql, offset: 0 })}\n`);
    return EXIT.failed;
  }
}

/**
 * Statements piped in: each runs on its own (and commits, unless inside BEGIN … COMMIT) as soon as it is
 * complete; the first error stops.
 */
async function runStdin(session: SqlConsole, flags: SqlFlags): Promise<number> {
  let script = '';
  let done = 0; // offset in `script` up to which statements have run
  let current: Statement = { sql: '', offset: 0 };
  const rowSets: StatementResult[] = [];
  const runComplete = async (final: boolean) => {
    const base = done;
    const { statements, rest, consumed } = splitStatements(script.slice(base));
    for (const s of final && rest.sql !== '' ? [...statements, rest] : statements) {
      current = { sql: s.sql, offset: base + s.offset };
      const results = await session.run(s.sql);
      // --json and --csv print one set of rows: the last, once every statement has run.
      if (flags.json || flags.csv) rowSets.push(...results.filter((r) => r.fields.length > 0).slice(-1));
      else printResults(results, flags);
    }
    done = base + consumed;
  };
  process.stdin.setEncoding('utf8'); // a character split across chunks stays whole
  try {
    for await (const chunk of process.stdin) {
      script += String(chunk);
      await runComplete(false);
    }
    await runComplete(true);
    if (flags.json || flags.csv) printResults(rowSets.slice(-1), flags);
    return EXIT.ok;
  } catch (error) {
    process.stderr.write(`sluice: ${sqlErrorLine(error, script, current)}\n`);
    return EXIT.failed;
  }
}

/** A prompt on a terminal: statements end with `;`; an error is printed and the session goes on. */
async function interactive(session: SqlConsole, flags: SqlFlags): Promise<void> {
  process.stderr.write(`${session.location}. End statements with ; and leave with Ctrl-D.\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr, prompt: 'sluice=> ' });
  let buffer = '';
  rl.prompt();
  for await (const line of rl) {
    buffer += `${line}\n`;
    const { statements, rest } = splitStatements(buffer);
    for (const s of statements) {
      try {
        printResults(await session.run(s.sql), flags);
      } catch (error) {
        process.stderr.write(`${sqlErrorLine(error, buffer, s)}\n`);
      }
    }
    buffer = rest.sql === '' ? '' : `${rest.sql}\n`;
    rl.setPrompt(buffer === '' ? 'sluice=> ' : 'sluice-> ');
    rl.prompt();
  }
  process.stderr.write('\n');
}

/**
 * One line for a failed statement: the database's message, where in the input (line and column, from the
 * error's position) and the SQLSTATE. Other errors (database gone) are left to the usual reporting.
 */
export function sqlErrorLine(error: unknown, script: string, statement: Statement): string {
  if (!isSluiceError(error, 'DATABASE_ERROR')) throw error;
  const cause = error.cause as { message?: string; position?: string; code?: string; hint?: string };
  const position = Number(cause?.position);
  const at =
    Number.isInteger(position) && position > 0 ? positionInScript(script, statement, position) : undefined;
  const where = at ? ` at line ${at.line}, column ${at.column}` : '';
  const hint = cause?.hint ? ` (${cause.hint})` : '';
  return `ERROR${where}: ${cause?.message ?? error.message}${hint} [SQLSTATE ${cause?.code ?? '?'}]`;
}

// PostgreSQL type OIDs printed as numbers (right-aligned in tables, numbers in JSON).
const INTEGER_TYPES = new Set([20, 21, 23, 26]);
const FLOAT_TYPES = new Set([700, 701]);
const NUMERIC = 1700;
const BOOL = 16;
const JSON_TYPES = new Set([114, 3802]);

function printResults(results: StatementResult[], flags: SqlFlags): void {
  if (flags.json || flags.csv) {
    const last = results.findLast((r) => r.fields.length > 0);
    if (flags.json) process.stdout.write(JSON.stringify(last ? asObjects(last) : [], null, 2) + '\n');
    else if (last) {
      process.stdout.write(csvLine(last.fields.map((f) => f.name)));
      for (const row of last.rows) process.stdout.write(csvLine(row));
    }
    return;
  }
  for (const r of results) {
    if (printedBefore) process.stdout.write('\n'); // a blank line between the results of statements
    process.stdout.write(formatResult(r));
    printedBefore = true;
  }
}

let printedBefore = false;

/** An aligned table and its row count, or the command tag (`INSERT 3`, `CREATE TABLE`). */
export function formatResult(r: StatementResult): string {
  if (r.fields.length === 0) {
    const tag = r.command ?? 'OK';
    return `${r.rowCount !== null && r.command !== null && /^(INSERT|UPDATE|DELETE|MERGE|COPY|MOVE|FETCH|SELECT)$/.test(r.command) ? `${tag} ${r.rowCount}` : tag}\n`;
  }
  const columns = r.fields.map((f) => ({
    header: f.name,
    right: INTEGER_TYPES.has(f.dataTypeID) || FLOAT_TYPES.has(f.dataTypeID) || f.dataTypeID === NUMERIC,
  }));
  const rows = r.rows.map((row) => row.map((v) => (v === null ? '' : visible(v))));
  return `${formatTable(columns, rows)}(${plural(r.rows.length, 'row')})\n`;
}

/** Control characters would break the table's alignment: shown escaped. */
const visible = (v: string) =>
  v.replace(/[\n\r\t]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));

/** Rows as objects keyed by column name (a repeated name gets `_2`, `_3`…), numbers and booleans typed. */
function asObjects(r: StatementResult): Record<string, unknown>[] {
  const seen = new Map<string, number>();
  const keys = r.fields.map((f) => {
    const n = (seen.get(f.name) ?? 0) + 1;
    seen.set(f.name, n);
    return n === 1 ? f.name : `${f.name}_${n}`;
  });
  return r.rows.map((row) =>
    Object.fromEntries(row.map((v, i) => [keys[i]!, typed(v, r.fields[i]!.dataTypeID)])),
  );
}

function typed(value: string | null, type: number): unknown {
  if (value === null) return null;
  if (type === BOOL) return value === 't';
  if (INTEGER_TYPES.has(type)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value; // bigints past 2^53 stay text: no digit is lost
  }
  if (FLOAT_TYPES.has(type)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : value; // NaN and Infinity are not JSON
  }
  if (JSON_TYPES.has(type)) return JSON.parse(value) as unknown;
  return value; // numeric stays text: JSON numbers would round it
}

/** One line of RFC 4180 CSV; NULL is an empty field. */
function csvLine(fields: readonly (string | null)[]): string {
  return (
    fields.map((v) => (v === null ? '' : /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v)).join(',') +
    '\r\n'
  );
}
