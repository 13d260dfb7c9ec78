import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import S3rver, { type S3rverContext } from 's3rver';
import { createReadStream } from 'node:fs';
import { checkPostPolicyV4, errorXml, isForm, readForm } from './post-policy';
import { checkPresignedV4 } from './sigv4-presigned';

export interface S3Peer {
  /** Multipart uploads begun in `bucket` and neither completed nor aborted, by key. */
  openUploads(bucket: string): Promise<string[]>;
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
  server.middleware.unshift(verifyPresignedV4, verifyPostPolicy, urlEncodedListings, multipartUploads(directory));
  const { port } = (await server.run()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    credentials: { ...ACCOUNT },
    openUploads: async (bucket) => (await listUploads(directory, bucket)).map((u) => u.key),
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

/** Where s3rver's filesystem store keeps a bucket's open multipart uploads (a folder each). */
const uploadsDir = (directory: string, bucket: string) => path.join(directory, bucket, '._S3rver_uploads');

async function listUploads(directory: string, bucket: string) {
  const dir = uploadsDir(directory, bucket);
  const ids = await readdir(dir).catch(() => []);
  const uploads: { key: string; uploadId: string; initiated: Date }[] = [];
  for (const uploadId of ids) {
    const key = await readFile(path.join(dir, uploadId, 'key'), 'utf8').catch(() => null);
    if (key !== null) uploads.push({ key, uploadId, initiated: (await stat(path.join(dir, uploadId))).birthtime });
  }
  return uploads.sort((a, b) => a.key.localeCompare(b.key) || a.uploadId.localeCompare(b.uploadId));
}

const xmlEscape = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * s3rver 3.x answers ListMultipartUploads (`GET /bucket?uploads`) with NotImplemented and has no
 * AbortMultipartUpload (`DELETE /bucket/key?uploadId=`) at all, though it keeps open uploads on
 * disk. These answer both over its own store, as S3 does (one page; no markers needed here).
 */
function multipartUploads(directory: string) {
  return async (ctx: S3rverContext, next: () => Promise<void>): Promise<void> => {
    const url = new URL(ctx.url, 'http://peer');
    const segments = url.pathname.split('/').filter(Boolean);
    const bucket = decodeURIComponent(segments[0] ?? '');
    if (ctx.method === 'GET' && segments.length === 1 && url.searchParams.has('uploads')) {
      const uploads = await listUploads(directory, bucket);
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult>' +
        `<Bucket>${xmlEscape(bucket)}</Bucket><IsTruncated>false</IsTruncated>` +
        uploads
          .map(
            (u) =>
              `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.uploadId}</UploadId>` +
              `<Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
          )
          .join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    const uploadId = url.searchParams.get('uploadId');
    if (ctx.method === 'DELETE' && segments.length > 1 && uploadId && /^[0-9a-f]+$/.test(uploadId)) {
      ctx.req.resume();
      const dir = path.join(uploadsDir(directory, bucket), uploadId);
      const open = await stat(dir).catch(() => null);
      ctx.type = 'application/xml';
      if (!open) {
        ctx.status = 404;
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code></Error>';
        return;
      }
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
      return;
    }
    return next();
  };
}
