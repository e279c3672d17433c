import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { SluiceError } from './errors.js';

const UNREADABLE: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'a folder, not a file',
};

/** CONFIG_NOT_FOUND naming `file` (once) and why it cannot be read, from a file system error. */
export function unreadableFile(file: string, error: unknown): SluiceError {
  const code = (error as NodeJS.ErrnoException).code;
  return new SluiceError(
    'CONFIG_NOT_FOUND',
    `cannot be read: ${(code && UNREADABLE[code]) ?? code ?? String(error)}`,
    {
      where: file,
    },
  );
}

/** A configuration file's text, or CONFIG_NOT_FOUND naming it (once) and why it cannot be read. */
export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw unreadableFile(file, error);
  }
}

/**
 * Fails with {@link unreadableFile} unless `file` is a file this process can read: for inputs handed to
 * another program or read later (a backup to restore, a workbook), so that the error is ours and early.
 */
export async function requireReadableFile(file: string): Promise<void> {
  const info = await stat(file).catch((error: unknown) => {
    throw unreadableFile(file, error);
  });
  if (info.isDirectory()) throw unreadableFile(file, Object.assign(new Error(file), { code: 'EISDIR' }));
  await access(file, constants.R_OK).catch((error: unknown) => {
    throw unreadableFile(file, error);
  });
}
