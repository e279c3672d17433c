import { SluiceError } from '../core/errors.js';
import type { BatchResult, CheckOutcome } from '../core/plugin.js';
import type { Column, ColumnType, Reject, Row, Value } from '../core/records.js';
import type { Registry } from '../core/registry.js';
import type { CheckSpec } from '../core/spec.js';

interface CompiledRule {
  rule: string;
  test: (value: string) => CheckOutcome;
}

interface CompiledColumn {
  name: string;
  required: boolean;
  rules: CompiledRule[];
  /** From the last rule of the column that decides a type. */
  type: ColumnType | undefined;
}

/** A checked column of one batch: the compiled rules and where the column is in the rows. */
interface PlacedColumn extends CompiledColumn {
  index: number;
}

/**
 * The `check:` stage. Rules are compiled once; each batch then has null markers turned into null in every
 * column, and the checked columns run through their rules, which may rewrite the values (canonical dates,
 * trimmed text). A row that breaks any rule leaves the batch with one reject per rule broken.
 */
export function createCheckStage(spec: CheckSpec, registry: Registry): (input: BatchResult) => BatchResult {
  const columns: CompiledColumn[] = Object.entries(spec.columns).map(([name, column]) => {
    let type: ColumnType | undefined;
    const rules = column.rules.map(({ rule, options }) => {
      const plugin = registry.get('check', rule, `check.columns."${name}"`);
      if (plugin.columnType) type = plugin.columnType(options);
      return { rule, test: plugin.compile(options) };
    });
    return { name, required: column.required, rules, type };
  });
  const isNull = nullTest(spec.nullValues);

  return (input) => {
    const batch = input.batch;
    const width = batch.columns.length;
    const placed = placeColumns(columns, batch.columns, batch.origin);
    const isChecked = new Set(placed.map((column) => column.index));
    const unchecked: number[] = [];
    for (let i = 0; i < width; i++) if (!isChecked.has(i)) unchecked.push(i);
    const uncheckedCount = unchecked.length;
    const placedCount = placed.length;

    const rows = batch.rows;
    const lines = batch.lines;
    const raw = batch.raw;
    const rejects: Reject[] = [];
    // The kept rows go to new arrays, made only once a row is rejected: the input batch keeps its length
    // (the runner counts the rows it read from it).
    let keptRows: Row[] | undefined;
    let keptLines: number[] | undefined;
    let keptRaw: string[] | undefined;
    let rejectedRows = 0;

    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      for (let k = 0; k < uncheckedCount; k++) {
        const i = unchecked[k]!;
        const value = row[i];
        if (value === undefined || (typeof value === 'string' && isNull(value))) row[i] = null;
      }
      let broken = false;
      for (let c = 0; c < placedCount; c++) {
        const column = placed[c]!;
        const cell = row[column.index];
        if (cell === null || cell === undefined || (typeof cell === 'string' && isNull(cell))) {
          row[column.index] = null;
          if (column.required) {
            rejects.push(
              reject(batch.origin, lines[r], column.name, 'required', cell, 'a value is required', raw?.[r]),
            );
            broken = true;
          }
          continue;
        }
        const original = typeof cell === 'string' ? cell : asText(cell);
        let value = original;
        let failed = false;
        const rules = column.rules;
        for (let k = 0; k < rules.length; k++) {
          const rule = rules[k]!;
          const outcome = rule.test(value);
          if (!outcome.ok) {
            rejects.push(
              reject(batch.origin, lines[r], column.name, rule.rule, original, outcome.message, raw?.[r]),
            );
            failed = true;
            break;
          }
          value = outcome.value;
        }
        if (failed) broken = true;
        else row[column.index] = value;
      }
      if (broken) {
        if (keptRows === undefined) {
          keptRows = rows.slice(0, r);
          keptLines = lines.slice(0, r);
          keptRaw = raw?.slice(0, r);
        }
        rejectedRows++;
      } else if (keptRows !== undefined) {
        keptRows.push(row);
        keptLines!.push(lines[r]!);
        keptRaw?.push(raw![r]!);
      }
    }

    const outColumns: Column[] = batch.columns.map((column) => ({ ...column }));
    for (const column of placed) {
      if (column.type !== undefined)
        outColumns[column.index] = { ...outColumns[column.index]!, type: column.type };
    }
    return {
      batch: {
        ...batch,
        columns: outColumns,
        rows: keptRows ?? rows,
        lines: keptLines ?? lines,
        ...(raw !== undefined ? { raw: keptRaw ?? raw } : {}),
      },
      rejects: rejects.length === 0 ? input.rejects : input.rejects.concat(rejects),
      rejectedRows: input.rejectedRows + rejectedRows,
    };
  };
}

function placeColumns(columns: CompiledColumn[], batchColumns: Column[], origin: string): PlacedColumn[] {
  const index = new Map<string, number>();
  batchColumns.forEach((column, i) => {
    if (!index.has(column.name)) index.set(column.name, i);
  });
  return columns.map((column) => {
    const i = index.get(column.name);
    if (i === undefined) {
      const names = batchColumns.map((c) => c.name).join(', ');
      // The file's fault, not the pipeline's: it is rejected whole and the run goes on.
      throw new SluiceError(
        'LAYOUT_MISMATCH',
        `no column "${column.name}", which check.columns names; the columns are: ${names}`,
        { where: origin },
      );
    }
    return { ...column, index: i };
  });
}

/** A test for null markers, compared after trimming, that avoids trimming values that cannot need it. */
function nullTest(nullValues: string[]): (value: string) => boolean {
  const markers = new Set(nullValues.map((v) => v.trim()));
  const emptyIsNull = markers.has('');
  let longest = 0;
  for (const marker of markers) longest = Math.max(longest, marker.length);
  return (value) => {
    const n = value.length;
    if (n === 0) return emptyIsNull;
    const first = value.charCodeAt(0);
    const last = value.charCodeAt(n - 1);
    // Printable ASCII at both ends: trim() would not change the value.
    if (first > 32 && first < 127 && last > 32 && last < 127) return n <= longest && markers.has(value);
    return markers.has(value.trim());
  };
}

/** Text of a value a parser gave as something other than a string (a number or a date from a spreadsheet). */
function asText(value: Exclude<Value, string | null>): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function reject(
  origin: string,
  line: number | undefined,
  column: string,
  rule: string,
  cell: Value | undefined,
  message: string,
  raw: string | undefined,
): Reject {
  const value = cell === null || cell === undefined ? null : typeof cell === 'string' ? cell : asText(cell);
  return { origin, line: line ?? null, column, rule, value, message, raw: raw ?? null };
}
