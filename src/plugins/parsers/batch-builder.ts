import type { BatchResult } from '../../core/plugin.js';
import type { Reject } from '../../core/records.js';

/**
 * Collects a parser's rows and row rejects into batches of `size` (rows and rejects together), each row
 * with its line and raw text. Every file gives at least one batch, empty if need be, so that the loader
 * learns the columns.
 */
export class BatchBuilder {
  private rows: (string | null)[][] = [];
  private lines: number[] = [];
  private raws: string[] = [];
  private rejects: Reject[] = [];
  private rejectedRows = 0;
  private builtAny = false;

  constructor(
    private readonly origin: string,
    private readonly size: number,
  ) {}

  /** Adds a row; true when the batch is full. */
  addRow(cells: (string | null)[], line: number, raw: string): boolean {
    this.rows.push(cells);
    this.lines.push(line);
    this.raws.push(raw);
    return this.rows.length + this.rejectedRows >= this.size;
  }

  /** Adds a row refused by the parser itself (such as a wrong field count); true when the batch is full. */
  addReject(line: number, rule: string, message: string, raw: string): boolean {
    this.rejects.push({ origin: this.origin, line, column: null, rule, value: null, message, raw });
    this.rejectedRows++;
    return this.rows.length + this.rejectedRows >= this.size;
  }

  /** The batch so far, or undefined when it is empty (unless `last` and no batch was built yet). */
  build(names: readonly string[], last = false): BatchResult | undefined {
    if (this.rows.length === 0 && this.rejectedRows === 0 && !(last && !this.builtAny)) return undefined;
    const result: BatchResult = {
      batch: {
        // Fresh column objects per batch: a later stage may set their types.
        columns: names.map((name) => ({ name })),
        rows: this.rows,
        origin: this.origin,
        lines: this.lines,
        raw: this.raws,
      },
      rejects: this.rejects,
      rejectedRows: this.rejectedRows,
    };
    this.builtAny = true;
    this.rows = [];
    this.lines = [];
    this.raws = [];
    this.rejects = [];
    this.rejectedRows = 0;
    return result;
  }
}
