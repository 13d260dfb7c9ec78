import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import S3rver, { type S3rverContext } from 's3rver';

export interface S3Peer {
  /** `http://127.0.0.1:<port>`; use with `forcePathStyle: true`. */
  endpoint: string;
  port: number;
  /** s3rver accepts any key pair with these defaults. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

/** Starts s3rver on a free loopback port with a fresh temp directory, silent, with `buckets` made. */
export async function startS3rver(buckets: string[] = []): Promise<S3Peer> {
  const directory = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  server.middleware.unshift(urlEncodedListings);
  const { port } = (await server.run()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#x27': "'", '#x60': '`' };

/**
 * s3rver ignores `encoding-type=url` on listings, which the `minio` client always sends and then
 * URL-decodes every key (so `+` came back as a space and `%` failed). This answers as S3 does.
 */
async function urlEncodedListings(ctx: S3rverContext, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.method !== 'GET' || ctx.query['encoding-type'] !== 'url' || typeof ctx.body !== 'string') return;
  ctx.body = ctx.body.replace(/<Key>([^<]*)<\/Key>/g, (_match, escaped: string) => {
    const key = escaped.replace(/&(amp|lt|gt|quot|#x27|#x60);/g, (_e, name: string) => XML_ENTITIES[name]);
    return `<Key>${encodeURIComponent(key)}</Key>`;
  });
}
