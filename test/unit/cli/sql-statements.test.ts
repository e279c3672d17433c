import { describe, expect, it } from 'vitest';
import { positionInScript, splitStatements } from '../../../src/cli/sql-statements.js';

describe('splitStatements', () => {
  it('splits at semicolons, keeping where each statement starts', () => {
    const { statements, rest, consumed } = splitStatements('SELECT 1;\n  SELECT 2 ;\nSELECT');
    expect(statements).toEqual([
      { sql: 'SELECT 1', offset: 0 },
      { sql: 'SELECT 2', offset: 12 },
    ]);
    expect(rest).toEqual({ sql: 'SELECT', offset: 23 });
    expect(consumed).toBe(22);
  });

  it('leaves semicolons in quotes, identifiers, dollar quotes and comments alone', () => {
    const script = [
      "SELECT 'a;b', 'it''s;'",
      'SELECT "odd;name" FROM t',
      "SELECT E'\\';'",
      'DO $$ BEGIN PERFORM 1; END $$',
      'SELECT $fn$ ; $fn$',
      'SELECT 1 -- a comment; not an end\n + 1',
      'SELECT /* one /* nested; */ still; */ 2',
      '',
    ].join(';\n');
    expect(splitStatements(script).statements.map((s) => s.sql)).toEqual([
      "SELECT 'a;b', 'it''s;'",
      'SELECT "odd;name" FROM t',
      "SELECT E'\\';'",
      'DO $$ BEGIN PERFORM 1; END $$',
      'SELECT $fn$ ; $fn$',
      'SELECT 1 -- a comment; not an end\n + 1',
      'SELECT /* one /* nested; */ still; */ 2',
    ]);
  });

  it('waits for the end of an open quote, dollar quote or comment', () => {
    for (const open of ["SELECT 'a;", 'DO $$ x;', 'SELECT 1 /* ;', 'SELECT "a;'])
      expect(splitStatements(open).statements).toEqual([]);
    expect(splitStatements("SELECT 'a;").rest.sql).toBe("SELECT 'a;");
  });

  it('does not take a parameter or a name with $ for a dollar quote', () => {
    expect(splitStatements('SELECT $1; SELECT a$b$ FROM t;').statements.map((s) => s.sql)).toEqual([
      'SELECT $1',
      'SELECT a$b$ FROM t',
    ]);
  });
});

describe('positionInScript', () => {
  it("turns PostgreSQL's 1-based character position into a line and column of the script", () => {
    const script = 'SELECT 1;\nSELECT x\n  FROM nowhere;';
    const second = splitStatements(script).statements[1]!;
    // "FROM nowhere": PostgreSQL points at "nowhere", character 17 of the statement.
    expect(positionInScript(script, second, 17)).toEqual({ line: 3, column: 8 });
    expect(positionInScript('SELECT é, x FROM t', { sql: 'SELECT é, x FROM t', offset: 0 }, 11)).toEqual({
      line: 1,
      column: 11,
    });
  });
});
