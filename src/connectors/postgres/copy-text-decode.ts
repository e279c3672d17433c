/**
 * Splits PostgreSQL COPY text output (https://www.postgresql.org/docs/current/sql-copy.html, "Text
 * Format") into rows of strings and nulls. Fed chunk by chunk; rows may straddle chunks.
 */
export class CopyTextDecoder {
  private rest = '';
  private readonly decoder = new TextDecoder('utf-8');

  /** The complete rows in this chunk (and what was left of the previous one). */
  push(chunk: Uint8Array): (string | null)[][] {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.rest = text;
      return [];
    }
    this.rest = text.slice(end + 1);
    const rows: (string | null)[][] = [];
    let start = 0;
    while (start <= end) {
      const nl = text.indexOf('\n', start);
      rows.push(decodeLine(text.slice(start, nl)));
      start = nl + 1;
    }
    return rows;
  }

  /** Throws when the stream ended in the middle of a row. */
  end(): void {
    const tail = this.rest + this.decoder.decode();
    if (tail !== '') throw new Error(`COPY output ended inside a row: ${tail.slice(0, 80)}`);
  }
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

function decodeLine(line: string): (string | null)[] {
  const fields = line.split('\t');
  const out: (string | null)[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f === '\\N') out[i] = null;
    else if (f.includes('\\')) out[i] = unescape(f);
    else out[i] = f;
  }
  return out;
}

// COPY TO writes only these escapes (never octal or hex ones, which are for input).
function unescape(field: string): string {
  return field.replace(/\\(.)/g, (_m, ch: string) => ESCAPES[ch] ?? ch);
}
