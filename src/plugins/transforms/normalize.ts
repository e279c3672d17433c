import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import { parseLocaleNumber } from '../../core/locale-numbers.js';
import { defineTransform, type TransformFunction } from '../../core/plugin.js';
import type { Column, Reject, Value } from '../../core/records.js';
import { plural } from '../../core/text.js';
import { instantInZone, isTimeZone } from '../../core/time-zones.js';

const options = z.strictObject({
  timeZone: z
    .string()
    .refine(isTimeZone, 'an IANA time zone such as Europe/Madrid or America/Argentina/Buenos_Aires')
    .optional()
    .describe(
      'The zone of naive timestamps: they become UTC. A time in a DST gap moves forward by the gap; a repeated one is the earlier instant (see repeated).',
    ),
  timestamps: z
    .array(z.string())
    .optional()
    .describe('The columns read in timeZone (default: every column of type timestamp).'),
  repeated: z
    .enum(['earlier', 'later', 'reject'])
    .default('earlier')
    .describe('A wall-clock time that happens twice (DST ends): its earlier or later instant, or a reject.'),
  numbers: z
    .strictObject({
      columns: z.array(z.string()).min(1).describe('Columns holding numbers as people write them.'),
      decimal: z.enum(['.', ',']).describe('The decimal mark: "," reads 1.234,5 and 1 234,5 as 1234.5.'),
      parenthesesNegative: z.boolean().default(false).describe('(12) is -12.'),
    })
    .optional()
    .describe('Locale-aware numbers, loaded as numeric; a text that is not one is a reject.'),
  dedupe: z
    .strictObject({
      keys: z.array(z.string()).min(1).describe('Columns that identify a row.'),
      keep: z
        .enum(['first', 'last'])
        .default('first')
        .describe(
          "first: a later row with the same keys in the run is dropped; last: of the rows with the same keys in one file (unit), the last is loaded, the earlier ones dropped (the file's rows are held until its end: memory grows with its distinct keys; across files, use a merging loader).",
        ),
    })
    .optional()
    .describe('Drop repeated rows of the same keys.'),
  dropEmpty: z
    .array(z.string())
    .optional()
    .describe('Drop rows with no value in any of these columns (an observation without a value).'),
});

type Options = z.output<typeof options>;

const pad = (n: number) => String(n).padStart(2, '0');
const NAIVE = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?$/;

/**
 * The normalize stage of seed 002, for any pipeline: naive timestamps read in an IANA zone become UTC
 * (`YYYY-MM-DD HH:MM:SS`), numbers written with a locale's marks become canonical, repeated keys and rows
 * without a value are dropped. Every row it changes or drops is counted; the count is in the run summary.
 */
export const normalizeTransform = defineTransform({
  name: 'normalize',
  summary:
    'Time zones for naive timestamps (DST rule documented), locale numbers, de-duplication, rows without a value dropped.',
  options,
  create(opts: Options) {
    const counts = { changed: 0, duplicates: 0, empty: 0 };
    const seen = new Set<string>();
    // Last-wins: the unit's latest row of each key, in the order of those rows, until the unit ends.
    const held = new Map<string, { row: Value[]; line: number; raw?: string; changed: boolean }>();
    let heldBatch: { columns: Column[]; origin: string; raw: boolean } | undefined;
    const lastWins = opts.dedupe?.keep === 'last';
    const fn: TransformFunction = (input) => {
      const { batch } = input;
      const find = (name: string, what: string) => {
        const i = batch.columns.findIndex((c) => c.name === name);
        if (i < 0)
          throw new SluiceError(
            'CONFIG_INVALID',
            `transform normalize: ${what} names column "${name}", which the rows do not have (${batch.columns.map((c) => c.name).join(', ')})`,
          );
        return i;
      };
      const zoneAt = opts.timeZone
        ? opts.timestamps
          ? opts.timestamps.map((c) => find(c, 'timestamps'))
          : batch.columns.flatMap((c, i) => (c.type === 'timestamp' ? [i] : []))
        : [];
      const numberAt = opts.numbers ? opts.numbers.columns.map((c) => find(c, 'numbers.columns')) : [];
      const keyAt = opts.dedupe ? opts.dedupe.keys.map((c) => find(c, 'dedupe.keys')) : [];
      const emptyAt = (opts.dropEmpty ?? []).map((c) => find(c, 'dropEmpty'));
      const columns: Column[] = batch.columns.map((c, i) =>
        numberAt.includes(i)
          ? { name: c.name, type: 'numeric' }
          : zoneAt.includes(i)
            ? { ...c, type: 'timestamp' }
            : c,
      );
      const rows: Value[][] = [];
      const lines: number[] = [];
      const raw: string[] | undefined = batch.raw ? [] : undefined;
      const rejects: Reject[] = [...input.rejects];
      let rejectedRows = input.rejectedRows;
      rows: for (let r = 0; r < batch.rows.length; r++) {
        const row = batch.rows[r]!;
        const reject = (column: number, value: Value, message: string, rule: string) => {
          rejects.push({
            origin: batch.origin,
            line: batch.lines[r] ?? null,
            column: batch.columns[column]!.name,
            rule,
            value: value === null ? null : String(value),
            message,
            raw: batch.raw?.[r] ?? null,
          });
          rejectedRows++;
        };
        if (emptyAt.some((i) => row[i] === null || row[i] === undefined || row[i] === '')) {
          counts.empty++;
          continue;
        }
        let changed = false;
        const out = [...row];
        for (const i of numberAt) {
          const v = row[i];
          if (v === null || v === undefined || v === '' || typeof v === 'number') continue;
          const parsed = parseLocaleNumber(String(v), opts.numbers!);
          if (parsed === undefined) {
            reject(
              i,
              v,
              `not a number written with "${opts.numbers!.decimal}" as decimal mark`,
              'normalizeNumber',
            );
            continue rows;
          }
          if (parsed !== v) changed = true;
          out[i] = parsed;
        }
        for (const i of zoneAt) {
          const v = row[i];
          if (typeof v !== 'string') continue;
          const m = NAIVE.exec(v);
          if (!m) continue; // already an instant (with an offset) or not a timestamp: left as it is
          const local = {
            year: +m[1]!,
            month: +m[2]!,
            day: +m[3]!,
            hour: +m[4]!,
            minute: +m[5]!,
            second: +(m[6] ?? 0),
          };
          const at = instantInZone(opts.timeZone!, local, opts.repeated);
          if (!at) {
            reject(i, v, `${v} happens twice in ${opts.timeZone} (the clocks go back)`, 'normalizeTime');
            continue rows;
          }
          const d = new Date(at.instant);
          out[i] =
            `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
          if (out[i] !== v) changed = true;
        }
        if (keyAt.length > 0 && lastWins) {
          const key = JSON.stringify(keyAt.map((i) => out[i] ?? null));
          if (held.delete(key)) counts.duplicates++;
          held.set(key, { row: out, line: batch.lines[r]!, raw: batch.raw?.[r], changed });
          heldBatch = { columns, origin: batch.origin, raw: batch.raw !== undefined };
          continue;
        }
        if (keyAt.length > 0) {
          const key = JSON.stringify(keyAt.map((i) => out[i] ?? null));
          if (seen.has(key)) {
            counts.duplicates++;
            continue;
          }
          seen.add(key);
        }
        if (changed) counts.changed++;
        rows.push(out);
        lines.push(batch.lines[r]!);
        if (raw) raw.push(batch.raw![r]!);
      }
      return {
        batch: { ...batch, columns, rows, lines, ...(raw ? { raw } : {}) },
        rejects,
        rejectedRows,
      };
    };
    fn.endUnit = () => {
      const kept = [...held.values()];
      const at = heldBatch;
      held.clear();
      heldBatch = undefined;
      if (!at || kept.length === 0) return undefined;
      counts.changed += kept.filter((k) => k.changed).length;
      return {
        batch: {
          columns: at.columns,
          origin: at.origin,
          rows: kept.map((k) => k.row),
          lines: kept.map((k) => k.line),
          ...(at.raw ? { raw: kept.map((k) => k.raw ?? '') } : {}),
        },
        rejects: [],
        rejectedRows: 0,
      };
    };
    fn.outcome = () => {
      const parts = [
        counts.changed > 0 && `${plural(counts.changed, 'row')} changed`,
        counts.duplicates > 0 && `${plural(counts.duplicates, 'row')} dropped as duplicates`,
        counts.empty > 0 && `${plural(counts.empty, 'row')} dropped without a value`,
      ].filter(Boolean);
      return parts.length > 0 ? `normalize: ${parts.join(', ')}` : undefined;
    };
    return fn;
  },
});
