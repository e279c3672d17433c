import { createReadStream } from 'node:fs';
import { SluiceError } from '../../core/errors.js';
import { joinKey, type ObjectStore } from './object-store.js';

/** How to reach an S3 bucket: AWS, or an S3-compatible server (MinIO, Ceph, s3rver) at `endpoint`. */
export interface S3Settings {
  /** `s3://bucket/prefix`. */
  url: string;
  /** An S3-compatible server's URL (`http://127.0.0.1:9000`); AWS when absent. */
  endpoint?: string;
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
  pathStyle?: boolean;
  /** Credentials; the AWS SDK's usual chain (environment, profile, instance role) when absent. */
  username?: string;
  password?: string;
}

/** `s3://bucket/some/prefix` → bucket and prefix. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) throw new SluiceError('CONFIG_INVALID', `not an s3:// URL: ${url}`);
  return { bucket: match[1]!, prefix: joinKey(match[2]!) };
}

/**
 * A lake in an S3 bucket through `@aws-sdk/client-s3` (imported when a lake uses S3). Checksums are
 * computed only when an operation requires them: S3-compatible servers may otherwise store stream uploads
 * with their chunk framing inside (see STACK.md).
 */
export async function createS3Store(settings: S3Settings): Promise<ObjectStore> {
  // The SDK warns on every Node 20 process that its releases after January 2027 need Node 22; the
  // installed one works, and the warning would land in every run's output (README says which Node to use).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const s3 = await import('@aws-sdk/client-s3');
  const { bucket, prefix } = parseS3Url(settings.url);
  const client = new s3.S3Client({
    region: settings.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.pathStyle ?? Boolean(settings.endpoint),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(settings.username && settings.password
      ? { credentials: { accessKeyId: settings.username, secretAccessKey: settings.password } }
      : {}),
  });
  const full = (key: string) => joinKey(prefix, key);
  const relative = (key: string) => (prefix ? key.slice(prefix.length + 1) : key);
  const failed = (what: string, error: unknown) =>
    new SluiceError('LOAD_FAILED', `S3 ${what} in ${settings.url} failed: ${(error as Error).message}`, {
      cause: error,
      retryable: true,
    });
  const call = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw failed(what, error);
    }
  };
  return {
    location: settings.endpoint ? `${settings.url} at ${settings.endpoint}` : settings.url,
    describe: (key) => `s3://${bucket}/${full(key)}`,
    putFile: (key, file, size) =>
      call(`upload of ${key}`, () =>
        client.send(
          new s3.PutObjectCommand({
            Bucket: bucket,
            Key: full(key),
            Body: createReadStream(file),
            ContentLength: size,
          }),
        ),
      ).then(() => undefined),
    putText: (key, text) =>
      call(`upload of ${key}`, () =>
        client.send(new s3.PutObjectCommand({ Bucket: bucket, Key: full(key), Body: text })),
      ).then(() => undefined),
    async get(key) {
      try {
        const out = await client.send(new s3.GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (error) {
        const name = (error as { name?: string }).name;
        if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
        throw failed(`download of ${key}`, error);
      }
    },
    async list(under) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await call(`listing of ${under}`, () =>
          client.send(
            new s3.ListObjectsV2Command({
              Bucket: bucket,
              Prefix: `${full(under)}/`,
              ...(token ? { ContinuationToken: token } : {}),
            }),
          ),
        );
        for (const o of page.Contents ?? []) if (o.Key) keys.push(relative(o.Key));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    copy: (from, to) =>
      call(`copy of ${from}`, () =>
        client.send(
          new s3.CopyObjectCommand({
            Bucket: bucket,
            Key: full(to),
            CopySource: encodeURI(`${bucket}/${full(from)}`),
          }),
        ),
      ).then(() => undefined),
    async delete(keys) {
      // One DeleteObject per key: DeleteObjects needs a Content-MD5 that not every server takes.
      for (const key of keys)
        await call(`delete of ${key}`, () =>
          client.send(new s3.DeleteObjectCommand({ Bucket: bucket, Key: full(key) })),
        );
    },
    async close() {
      client.destroy();
    },
  };
}
