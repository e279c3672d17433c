import type { ObjectStore } from '../../../connectors/s3/object-store.js';
import type { SqlClient } from '../../../core/sql.js';
import { lakeKeys } from './lake-layout.js';
import { markPublished, setCurrentVersion } from './lake-ledger.js';

/**
 * Flips a dataset's pointer to `version`, then records it. The pointer is one whole-object write, the last
 * one of a version: a reader that follows it finds the manifest and every file it lists. Idempotent.
 */
export async function flipPointer(
  store: ObjectStore,
  db: SqlClient,
  dataset: string,
  version: string,
  how: 'publish' | 'rollback',
): Promise<void> {
  await store.putText(lakeKeys.pointer(dataset), `${version}\n`);
  if (how === 'publish') await markPublished(db, dataset, version);
  else await setCurrentVersion(db, dataset, version);
}

/** The version the pointer names now, as readers see it (undefined before the first version). */
export async function readPointer(store: ObjectStore, dataset: string): Promise<string | undefined> {
  const bytes = await store.get(lakeKeys.pointer(dataset));
  const text = bytes?.toString('utf8').trim();
  return text ? text : undefined;
}
