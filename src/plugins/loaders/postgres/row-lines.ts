/**
 * The source line of each row copied, in order, so that a COPY error's "line N" names the file's line.
 * Kept as runs of consecutive lines (a run breaks at a reject or a record over several lines), so memory
 * follows the breaks, not the rows: a file of 10M rows no longer holds 40 MB of line numbers.
 */
export class RowLines {
  /** Row number (1-based) where each run starts, and its line. */
  private rows = new Float64Array(16);
  private starts = new Float64Array(16);
  private runs = 0;
  private count = 0;
  private last = -1;

  push(line: number): void {
    this.count++;
    if (this.runs > 0 && line === this.last + 1) {
      this.last = line;
      return;
    }
    if (this.runs === this.rows.length) {
      const rows = new Float64Array(this.runs * 2);
      const starts = new Float64Array(this.runs * 2);
      rows.set(this.rows);
      starts.set(this.starts);
      this.rows = rows;
      this.starts = starts;
    }
    this.rows[this.runs] = this.count;
    this.starts[this.runs] = line;
    this.runs++;
    this.last = line;
  }

  /** The line of the `n`th row copied (1-based), when known. */
  get(n: number): number | undefined {
    if (!(n >= 1 && n <= this.count)) return undefined;
    let low = 0;
    let high = this.runs - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.rows[mid]! <= n) low = mid;
      else high = mid - 1;
    }
    return this.starts[low]! + (n - this.rows[low]!);
  }
}
