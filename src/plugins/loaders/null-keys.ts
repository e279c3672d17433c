import { SluiceError } from '../../core/errors.js';
import type { LoadUnit } from '../../core/plugin.js';
import type { RecordBatch, Reject } from '../../core/records.js';

/**
 * Takes the rows whose merge key has a null out of a batch: a row without its key cannot be merged, so it
 * is a reject (rule `key`, one per row), not a failure of the whole unit. `keyIndexes` are the key columns'
 * positions in the batch. Returns the batch unchanged when no key is null.
 */
export async function withoutNullKeys(
  batch: RecordBatch,
  keyIndexes: readonly number[],
  unit: LoadUnit,
): Promise<RecordBatch> {
  if (keyIndexes.length === 0) return batch;
  let keep: number[] | undefined;
  const rejects: Reject[] = [];
  for (let r = 0; r < batch.rows.length; r++) {
    const row = batch.rows[r]!;
    // The common case allocates nothing: a row with all its keys.
    let complete = true;
    for (let k = 0; k < keyIndexes.length; k++) {
      if ((row[keyIndexes[k]!] ?? null) === null) {
        complete = false;
        break;
      }
    }
    if (complete) {
      keep?.push(r);
      continue;
    }
    const nullAt = keyIndexes.filter((i) => (row[i] ?? null) === null);
    keep ??= Array.from({ length: r }, (_, i) => i);
    const names = nullAt.map((i) => `"${batch.columns[i]!.name}"`).join(', ');
    rejects.push({
      origin: batch.origin,
      line: batch.lines[r] ?? null,
      column: batch.columns[nullAt[0]!]!.name,
      rule: 'key',
      value: null,
      message: `the merge key ${names} is empty: the row cannot be merged`,
      raw: batch.raw?.[r] ?? null,
    });
  }
  if (!keep) return batch;
  if (!unit.reject) {
    const first = rejects[0]!;
    throw new SluiceError('LOAD_FAILED', first.message, { where: `${first.origin}:${first.line ?? '?'}` });
  }
  await unit.reject(rejects);
  const rows = keep;
  return {
    ...batch,
    rows: rows.map((r) => batch.rows[r]!),
    lines: rows.map((r) => batch.lines[r]!),
    ...(batch.raw ? { raw: rows.map((r) => batch.raw![r]!) } : {}),
  };
}
