import { z } from 'zod';

/** What a file source does with a file once its outcome committed; shared by every file source. */
export const settleOptions = {
  onLoad: z
    .enum(['keep', 'delete', 'move'])
    .default('keep')
    .describe(
      'After a file loads (or is skipped as already loaded): keep it, delete it, or move it to processedDir.',
    ),
  processedDir: z
    .string()
    .default('processed')
    .describe('Folder for loaded files with onLoad: move, relative to the source folder.'),
  onReject: z
    .enum(['keep', 'delete', 'move'])
    .default('move')
    .describe('After a file is rejected whole (layout): keep, delete, or move it to rejectedDir.'),
  rejectedDir: z
    .string()
    .default('rejected')
    .describe('Folder for rejected files, relative to the source folder.'),
};
