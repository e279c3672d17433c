import { describe, expect, it } from 'vitest';
import {
  clipIdentifier,
  describeCharacter,
  firstRefused,
  planColumnNames,
  POSTGRES_TEXT,
  stripRefused,
  targetColumnNames,
} from '../../../src/core/sql.js';
import { MYSQL_IDENTIFIERS } from '../../../src/connectors/mysql/mysql-ident.js';

describe('planColumnNames', () => {
  it('normalizes headers and makes repeats unique with _2, _3…, warning about each rename', () => {
    const plan = planColumnNames(['Fecha envio', 'fecha_envio', 'FECHA-ENVIO', '', '2024']);
    expect(plan.names).toEqual(['fecha_envio', 'fecha_envio_2', 'fecha_envio_3', 'column', 'c_2024']);
    expect(plan.renamed).toEqual([
      'column 2 ("fecha_envio") loads as "fecha_envio_2": an earlier column has the same name',
      'column 3 ("FECHA-ENVIO") loads as "fecha_envio_3": an earlier column has the same name',
    ]);
  });

  it("gives PostgreSQL's system column names an _, in both modes", () => {
    expect(targetColumnNames(['xmin', 'XMAX', 'ctid', 'cmin', 'cmax', 'tableoid', 'oid'])).toEqual([
      'xmin_',
      'xmax_',
      'ctid_',
      'cmin_',
      'cmax_',
      'tableoid_',
      'oid',
    ]);
    // Kept as written, "XMAX" is another name than xmax to PostgreSQL: no clash.
    expect(targetColumnNames(['xmin', 'XMAX', 'xmin_'], 'keep')).toEqual(['xmin_', 'XMAX', 'xmin__2']);
    expect(planColumnNames(['ctid'], 'keep').renamed).toEqual([
      'column 1 ("ctid") loads as "ctid_": PostgreSQL reserves the name for a system column',
    ]);
  });

  it('keep: cuts names to 63 bytes at a character boundary, and two names equal after the cut differ by _2', () => {
    const a = `${'é'.repeat(40)}a`; // 81 bytes
    const b = `${'é'.repeat(40)}b`;
    const plan = planColumnNames([a, b, 'short'], 'keep');
    expect(plan.names[0]).toBe('é'.repeat(31)); // 62 bytes: a 32nd é would need 64
    expect(plan.names[1]).toBe(`${'é'.repeat(30)}_2`); // 62 bytes
    expect(plan.names[2]).toBe('short');
    for (const name of plan.names) expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    expect(plan.renamed[0]).toMatch(
      /^column 1 \(".*"\) loads as ".*": longer than PostgreSQL's limit of 63 bytes$/,
    );
    expect(plan.renamed[1]).toMatch(
      /longer than PostgreSQL's limit of 63 bytes; an earlier column has the same name$/,
    );
  });

  it('keep: refuses empty names and NUL, naming every such column', () => {
    expect(() => planColumnNames(['id', '', 'a\u0000b', 'ok'], 'keep')).toThrow(
      expect.objectContaining({
        code: 'TARGET_MISMATCH',
        message:
          'the header has names PostgreSQL cannot take as they are: column 2 (""): an empty name; column 3 ("a\\u0000b"): a NUL character in its name',
      }),
    );
  });

  it('MySQL: 64 characters (not bytes), names equal but for case or accents are one, trailing spaces dropped, no emoji', () => {
    const long = 'ñ'.repeat(70);
    const plan = planColumnNames([long, 'Name', 'name', 'Nâme', 'xmin', 'pad  '], 'keep', MYSQL_IDENTIFIERS);
    expect(plan.names).toEqual(['ñ'.repeat(64), 'Name', 'name_2', 'Nâme_3', 'xmin', 'pad']);
    expect(plan.renamed).toContain(
      'column 6 ("pad  ") loads as "pad": MySQL column names cannot end with a space',
    );
    expect(() => planColumnNames(['ok', 'smile 😀'], 'keep', MYSQL_IDENTIFIERS)).toThrow(
      /column 2 \("smile 😀"\): MySQL column names cannot hold characters beyond U\+FFFF/,
    );
    // Normalized names are ASCII: the same in characters and bytes.
    expect(targetColumnNames([long], 'normalize', MYSQL_IDENTIFIERS)).toEqual(['n'.repeat(64)]);
  });
});

describe('clipIdentifier', () => {
  it('cuts by bytes or by characters, never inside a character or a surrogate pair', () => {
    expect(clipIdentifier('aéb', 2, 'bytes')).toBe('a');
    expect(clipIdentifier('aéb', 3, 'bytes')).toBe('aé');
    expect(clipIdentifier('a😀b', 4, 'bytes')).toBe('a');
    expect(clipIdentifier('a😀b', 2, 'characters')).toBe('a😀');
    expect(clipIdentifier('abc', 10, 'characters')).toBe('abc');
  });
});

describe('characters a column cannot store', () => {
  it('finds NUL and lone surrogates for PostgreSQL text, and lets surrogate pairs through', () => {
    expect(firstRefused('plain', POSTGRES_TEXT)).toBe(-1);
    expect(firstRefused('emoji 😀 ok', POSTGRES_TEXT)).toBe(-1);
    expect(firstRefused('ab\u0000c', POSTGRES_TEXT)).toBe(2);
    expect(firstRefused('x\ud83d y', POSTGRES_TEXT)).toBe(1);
    expect(firstRefused('x\ude00', POSTGRES_TEXT)).toBe(1);
  });

  it('strips them, counting what it took out', () => {
    expect(stripRefused('a\u0000b\u0000\ud83dc😀', POSTGRES_TEXT)).toEqual({ text: 'abc😀', removed: 3 });
  });

  it('names the character for a person', () => {
    expect(describeCharacter('a\u0000', 1)).toBe('U+0000 (NUL)');
    expect(describeCharacter('\ud83d', 0)).toBe('a lone surrogate U+D83D');
    expect(describeCharacter('😀', 0)).toBe('U+1F600 "😀"');
    expect(describeCharacter('\u0085', 0)).toBe('U+0085 (a control character)');
  });
});
