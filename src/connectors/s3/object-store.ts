/**
 * What the lake needs of where it keeps objects: a local folder or an S3 bucket. Keys are `/`-separated
 * paths under the store's root. Every write of a whole object is atomic for readers (a reader sees the old
 * object or the new one, never a part): S3 gives that for a PUT, the folder store writes a temporary file
 * and renames it.
 */
export interface ObjectStore {
  /** Where the objects are (`s3://bucket/prefix`, a folder path), safe to show: no credentials. */
  readonly location: string;
  /** Where one object is, for people and notices (`s3://bucket/prefix/key`, a file path). */
  describe(key: string): string;
  /** Uploads a local file as `key`. */
  putFile(key: string, file: string, size: number): Promise<void>;
  putText(key: string, text: string): Promise<void>;
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;
  /** Every key under `prefix` (which should end in `/`). */
  list(prefix: string): Promise<string[]>;
  copy(from: string, to: string): Promise<void>;
  /** Deletes the objects; a missing one is not an error. */
  delete(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** `a/b` + `c` → `a/b/c`, without doubled or leading slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p !== '')
    .join('/');
}
