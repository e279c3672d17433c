import { readFile } from 'node:fs/promises';
import { SluiceError } from './errors.js';

const UNREADABLE: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'a folder, not a file',
};

/** A configuration file's text, or CONFIG_NOT_FOUND naming it (once) and why it cannot be read. */
export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SluiceError(
      'CONFIG_NOT_FOUND',
      `cannot be read: ${(code && UNREADABLE[code]) ?? code ?? String(error)}`,
      { where: file },
    );
  }
}
