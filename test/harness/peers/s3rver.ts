import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import S3rver, { type S3rverContext } from 's3rver';
import { createReadStream } from 'node:fs';
import { checkPostPolicyV4, errorXml, isForm, readForm } from './post-policy';
import { checkPresignedV4 } from './sigv4-presigned';

export interface S3Peer {
  /** `http://127.0.0.1:<port>`; use with `forcePathStyle: true`. */
  endpoint: string;
  port: number;
  /** s3rver accepts any key pair with these defaults. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

/** s3rver's one account: any other key is refused. */
const ACCOUNT = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * Starts s3rver on a free loopback port (reachable as 127.0.0.1 and as localhost) with a fresh
 * temp directory, silent, with `buckets` made. Presigned V4 URLs are checked as S3 checks them
 * (s3rver itself lets any V4 signature through), and so are POST form uploads' policies (s3rver
 * ignores them): signature, expiry, conditions, `content-length-range`. Requests signed in
 * headers are left to s3rver.
 */
export async function startS3rver(buckets: string[] = []): Promise<S3Peer> {
  const directory = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  server.middleware.unshift(verifyPresignedV4, verifyPostPolicy, urlEncodedListings);
  const { port } = (await server.run()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    credentials: { ...ACCOUNT },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Answers 403 with S3's error when a presigned V4 URL's signature does not hold. */
async function verifyPresignedV4(ctx: S3rverContext, next: () => Promise<void>): Promise<void> {
  if (!('X-Amz-Algorithm' in ctx.query)) return next();
  const refused = checkPresignedV4({ method: ctx.method, url: ctx.url, headers: ctx.headers }, (id) =>
    id === ACCOUNT.accessKeyId ? ACCOUNT.secretAccessKey : undefined,
  );
  if (!refused) return next();
  ctx.req.resume();
  ctx.status = 403;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refused.code}</Code><Message>${refused.message}</Message></Error>`;
}

/**
 * A form POST to a bucket (`POST /bucket`, multipart): the body is read to its end (to a temp
 * file) and its policy checked; a refused form gets S3's error, an accepted one is handed to
 * s3rver, which reads the saved body instead of the spent request.
 */
async function verifyPostPolicy(ctx: S3rverContext, next: () => Promise<void>): Promise<void> {
  const bucket = /^\/([^/?]+)\/?(\?.*)?$/.exec(ctx.url)?.[1];
  if (ctx.method !== 'POST' || !bucket || !isForm(ctx.headers)) return next();
  const form = await readForm(ctx.req);
  try {
    const refused = checkPostPolicyV4(form, decodeURIComponent(bucket), (id) =>
      id === ACCOUNT.accessKeyId ? ACCOUNT.secretAccessKey : undefined,
    );
    if (refused) {
      ctx.status = refused.status;
      ctx.type = 'application/xml';
      ctx.body = errorXml(refused);
      return;
    }
    const pipe = <T extends NodeJS.WritableStream>(destination: T): T =>
      createReadStream(form.bodyFile).pipe(destination);
    Object.assign(ctx.req, { pipe });
    await next();
  } finally {
    await form.dispose();
  }
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
