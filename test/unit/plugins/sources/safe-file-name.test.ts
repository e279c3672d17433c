import { describe, expect, it } from 'vitest';
import {
  MAX_FILE_NAME_BYTES,
  safeFileName,
  uniqueFileName,
} from '../../../../src/plugins/sources/safe-file-name.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('safeFileName', () => {
  it('cannot climb out of a folder', () => {
    const name = safeFileName('../../etc/passwd');
    expect(name).toBe('etc_passwd');
    expect(name).not.toContain('/');
    expect(name).not.toContain('..');
    expect(safeFileName('..\\..\\windows\\system32\\x.dll')).toBe('windows_system32_x.dll');
    expect(safeFileName('..')).toBe('attachment');
    expect(safeFileName('report..final..csv')).toBe('report.final.csv');
  });

  it('replaces path separators', () => {
    expect(safeFileName('a/b.xlsx')).toBe('a_b.xlsx');
    expect(safeFileName('/abs/path.csv')).toBe('abs_path.csv');
  });

  it('bounds the length in bytes and keeps the extension', () => {
    const name = safeFileName(`${'x'.repeat(296)}.csv`);
    expect(bytes(name)).toBe(MAX_FILE_NAME_BYTES);
    expect(name.endsWith('.csv')).toBe(true);
    // Multi-byte characters are never split.
    const wide = safeFileName(`${'ñ'.repeat(300)}.xlsx`);
    expect(bytes(wide)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(wide).toMatch(/^ñ+\.xlsx$/u);
    // An absurd "extension" is not kept at the cost of the whole name.
    const oddExt = safeFileName(`report.${'y'.repeat(300)}`);
    expect(bytes(oddExt)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(oddExt.startsWith('report.')).toBe(true);
  });

  it('keeps letters of any script', () => {
    expect(safeFileName('Año 2026 – señal café.xlsx')).toBe('Año 2026 – señal café.xlsx');
    expect(safeFileName('日本語.csv')).toBe('日本語.csv');
    // A decomposed é becomes the composed one.
    expect(safeFileName('cafe\u0301.csv')).toBe('café.csv');
  });

  it('names an empty result attachment', () => {
    expect(safeFileName('')).toBe('attachment');
    expect(safeFileName('   ')).toBe('attachment');
    expect(safeFileName('\u0000\u0001')).toBe('attachment');
    expect(safeFileName('///')).toBe('attachment');
  });

  it('drops control and invisible formatting characters', () => {
    expect(safeFileName('rep\u0000ort\r\n.csv')).toBe('report.csv');
    expect(safeFileName('a\tb.csv')).toBe('ab.csv');
    // The right-to-left override that shows `invoice_cod.exe` as `invoice_exe.doc`.
    expect(safeFileName('invoice_\u202Ecod.exe')).toBe('invoice_cod.exe');
    expect(safeFileName('bell\u0007\u001b[31m.txt')).toBe('bell[31m.txt');
  });

  it('avoids names Windows reserves and characters it refuses', () => {
    expect(safeFileName('CON.csv')).toBe('_CON.csv');
    expect(safeFileName('a<b>:c"d|e?f*.csv')).toBe('a_b_c_d_e_f_.csv');
  });
});

describe('uniqueFileName', () => {
  it('adds a numeric suffix before the extension on a clash', () => {
    const taken = new Set<string>();
    expect(uniqueFileName('a.csv', taken)).toBe('a.csv');
    expect(uniqueFileName('a.csv', taken)).toBe('a_2.csv');
    expect(uniqueFileName('a.csv', taken)).toBe('a_3.csv');
    expect(uniqueFileName('b', taken)).toBe('b');
    expect(uniqueFileName('b', taken)).toBe('b_2');
  });

  it('stays within the byte bound', () => {
    const long = safeFileName(`${'z'.repeat(300)}.csv`);
    const taken = new Set([long]);
    const next = uniqueFileName(long, taken);
    expect(next).not.toBe(long);
    expect(next.endsWith('_2.csv')).toBe(true);
    expect(bytes(next)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
  });
});
