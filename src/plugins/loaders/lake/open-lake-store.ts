import { fileURLToPath } from 'node:url';
import { createFolderStore } from '../../../connectors/s3/folder-store.js';
import type { ObjectStore } from '../../../connectors/s3/object-store.js';
import { createS3Store, type S3Settings } from '../../../connectors/s3/s3-store.js';

/** The store of a lake `url`: `s3://bucket/prefix` (with its S3 settings) or a local folder. */
export async function openLakeStore(url: string, s3: Omit<S3Settings, 'url'> = {}): Promise<ObjectStore> {
  if (url.startsWith('s3://')) return createS3Store({ url, ...s3 });
  return createFolderStore(url.startsWith('file://') ? fileURLToPath(url) : url);
}
