import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import type { LoadUnit, Logger } from '../../core/plugin.js';
import type { RecordBatch, Reject } from '../../core/records.js';
import { describeCharacter, firstRefused, stripRefused, type CharacterRule } from '../../core/sql.js';

/** The option both loaders take, by the same name. */
export const unstorableCharactersOption = z
  .enum(['reject', 'strip'])
  .default('reject')
  .describe(
    'A value holding a character the target column cannot store (NUL in PostgreSQL; in MySQL what its character set lacks, such as emoji in a utf8mb3 column; anywhere, a lone UTF-16 surrogate): reject rejects the row (rule unstorable, with its line and column); strip removes the characters and warns.',
  );

export type UnstorablePolicy = z.output<typeof unstorableCharactersOption>;

interface Stripped {
  count: number;
  rows: number;
  firstLine: number | null;
  example: string;
  target: string;
}

/**
 * Handles the characters a unit's values hold that the target cannot store: each refused row becomes a
 * reject (sent through `unit.reject`, like a null merge key), or the characters are stripped and one
 * warning per column says how many and where.
 */
export class UnstorableCharacters {
  private rejects: Reject[] = [];
  private readonly stripped = new Map<string, Stripped>();

  constructor(
    private readonly policy: UnstorablePolicy,
    private readonly unit: LoadUnit,
    private readonly logger: Logger,
  ) {}

  /**
   * Row `r` of `batch` holds `text` in column `index`, refused at character `at`. Returns the text to load
   * instead (strip), or null when the row is rejected.
   */
  refused(
    batch: RecordBatch,
    r: number,
    index: number,
    text: string,
    at: number,
    rule: CharacterRule,
  ): string | null {
    const column = batch.columns[index]!.name;
    const line = batch.lines[r] ?? null;
    const what = describeCharacter(text, at);
    if (this.policy === 'strip') {
      const result = stripRefused(text, rule);
      const s = this.stripped.get(column);
      if (s) {
        s.count += result.removed;
        s.rows++;
      } else
        this.stripped.set(column, {
          count: result.removed,
          rows: 1,
          firstLine: line,
          example: what,
          target: rule.target,
        });
      return result.text;
    }
    this.rejects.push({
      origin: batch.origin,
      line,
      column,
      rule: 'unstorable',
      value: text,
      message: `column ${JSON.stringify(column)} holds ${what} at character ${at + 1}, which ${rule.target} cannot store`,
      raw: batch.raw?.[r] ?? null,
    });
    return null;
  }

  /** Sends the rejects gathered so far (a unit without `reject` fails, naming the first). */
  async flush(): Promise<void> {
    if (this.rejects.length === 0) return;
    const rejects = this.rejects;
    this.rejects = [];
    if (!this.unit.reject) {
      const first = rejects[0]!;
      throw new SluiceError('TARGET_MISMATCH', first.message, {
        where: `${first.origin}:${first.line ?? '?'}`,
        hint: 'Fix the file, or set load.unstorableCharacters: strip.',
      });
    }
    await this.unit.reject(rejects);
  }

  /** Warns, once per column, about the characters stripped. */
  finish(): void {
    for (const [column, s] of this.stripped) {
      this.logger.warn(
        `stripped ${s.count} character${s.count === 1 ? '' : 's'} ${s.target} cannot store (such as ${s.example}) from column ${JSON.stringify(column)} of ${this.unit.origin}, in ${s.rows} row${s.rows === 1 ? '' : 's'}${s.firstLine !== null ? `, the first at line ${s.firstLine}` : ''}`,
      );
    }
    this.stripped.clear();
  }
}

/**
 * The batch with the characters the target refuses dealt with: `rules[i]` is the rule of batch column `i`
 * (undefined: nothing to check). Rejected rows leave the batch; stripped values are replaced. Returns the
 * batch itself when nothing was refused.
 */
export async function withStorableText(
  batch: RecordBatch,
  rules: readonly (CharacterRule | undefined)[],
  tracker: UnstorableCharacters,
): Promise<RecordBatch> {
  let keep: number[] | undefined;
  let rows = batch.rows;
  for (let r = 0; r < batch.rows.length; r++) {
    let row = batch.rows[r]!;
    let rejected = false;
    for (let i = 0; i < rules.length && !rejected; i++) {
      const rule = rules[i];
      const value = row[i];
      if (!rule || typeof value !== 'string') continue;
      const at = firstRefused(value, rule);
      if (at < 0) continue;
      const replacement = tracker.refused(batch, r, i, value, at, rule);
      if (replacement === null) rejected = true;
      else {
        if (rows === batch.rows) rows = batch.rows.slice();
        if (row === batch.rows[r]) row = row.slice();
        row[i] = replacement;
        rows[r] = row;
      }
    }
    if (rejected) keep ??= Array.from({ length: r }, (_, i) => i);
    else keep?.push(r);
  }
  await tracker.flush();
  if (!keep) return rows === batch.rows ? batch : { ...batch, rows };
  const kept = keep;
  return {
    ...batch,
    rows: kept.map((r) => rows[r]!),
    lines: kept.map((r) => batch.lines[r]!),
    ...(batch.raw ? { raw: kept.map((r) => batch.raw![r]!) } : {}),
  };
}
