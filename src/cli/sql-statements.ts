/** One statement of a script: its text (without the `;`) and where it starts in the script. */
export interface Statement {
  sql: string;
  /** Offset of the statement's first character in the script. */
  offset: number;
}

/**
 * Splits SQL text at the semicolons that end statements, skipping those inside quotes ('…', E'…', "…"),
 * dollar quotes ($$…$$, $tag$…$tag$) and comments (line comments and nested block comments). `rest` is what follows the last
 * complete statement: more input is needed to finish it (or it is blank).
 */
export function splitStatements(text: string): {
  statements: Statement[];
  rest: Statement;
  /** Offset just past the semicolon of the last complete statement (0 when there is none). */
  consumed: number;
} {
  const statements: Statement[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const raw = text.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    if (raw.trim() !== '') statements.push({ sql: raw.trim(), offset: start + lead });
  };
  while (i < text.length) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (ch === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      if (end < 0) break;
      i = end + 1;
    } else if (ch === '/' && next === '*') {
      const end = blockCommentEnd(text, i);
      if (end < 0) break;
      i = end;
    } else if (ch === "'" || ch === '"') {
      const backslashes = ch === "'" && /[eE]$/.test(text.slice(0, i)) && !/\w[eE]$/.test(text.slice(0, i));
      const end = quoteEnd(text, i, ch, backslashes);
      if (end < 0) break;
      i = end;
    } else if (ch === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i));
      if (tag && !/[A-Za-z0-9_]$/.test(text.slice(0, i))) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        if (end < 0) break;
        i = end + tag[0].length;
      } else i++;
    } else if (ch === ';') {
      push(i);
      start = i + 1;
      i++;
    } else i++;
  }
  const raw = text.slice(start);
  const lead = raw.length - raw.trimStart().length;
  return { statements, rest: { sql: raw.trim(), offset: start + lead }, consumed: start };
}

/** Index just past the quote closing the one at `open`, or -1 when the text ends first. */
function quoteEnd(text: string, open: number, quote: string, backslashes: boolean): number {
  let i = open + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (backslashes && ch === '\\') i += 2;
    else if (ch === quote) {
      if (text[i + 1] === quote)
        i += 2; // a doubled quote stands for itself
      else return i + 1;
    } else i++;
  }
  return -1;
}

/** Index just past the end of the (possibly nested) block comment at `open`, or -1. */
function blockCommentEnd(text: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < text.length - 1) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return -1;
}

/**
 * Where PostgreSQL's error position (1-based, in characters of the statement sent) falls in the script the
 * statement came from: 1-based line and column.
 */
export function positionInScript(
  script: string,
  statement: Statement,
  position: number,
): { line: number; column: number } {
  const inStatement = [...statement.sql].slice(0, Math.max(0, position - 1)).join('').length;
  const before = script.slice(0, statement.offset + inStatement);
  const lines = before.split('\n');
  return { line: lines.length, column: [...lines[lines.length - 1]!].length + 1 };
}
