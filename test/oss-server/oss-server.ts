import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { checkOssPostPolicy, isForm } from '../harness/peers/post-policy';
import { canonicalResource, parseQuery, sign, signaturesMatch, stringToSign } from './oss-signature';
import { OssStore, OssStoreError, quoteEtag, type StoredObject } from './oss-store';

export interface OssServerOptions {
  accessKeyId: string;
  accessKeySecret: string;
  /** Buckets that exist from the start; more can be made with PutBucket. */
  buckets?: string[];
}

export interface OssServer {
  /** `http://localhost:<port>`: ali-oss refuses to sign URLs for an IP endpoint. */
  endpoint: string;
  port: number;
  /** What failed writes left: open multipart uploads and temp files. Empty when all is clean. */
  leftovers(bucket: string): Promise<string[]>;
  /** Multipart uploads begun in `bucket` and neither completed nor aborted, by key. */
  openUploads(bucket: string): Promise<string[]>;
  close(): Promise<void>;
}

const MAX_SKEW_MS = 15 * 60 * 1000;

/**
 * A small OSS-protocol server for tests, path style (`/bucket/key`, ali-oss `sldEnable: true`).
 * It verifies every request's V1 signature, in the Authorization header or in the URL
 * (`OSSAccessKeyId`, `Expires`, `Signature`), and answers 403 `SignatureDoesNotMatch` when it
 * differs. It implements what the OSS driver uses: Put/Get(Range)/Head/Delete/Copy object,
 * GetBucket (prefix, marker, max-keys), PutBucket, multipart upload (with ListMultipartUploads and
 * AbortMultipartUpload), and PostObject (an HTML form
 * to `/bucket/` whose policy is checked as OSS checks it, see `postObject`).
 */
export async function startOssServer(options: OssServerOptions): Promise<OssServer> {
  const root = await mkdtemp(path.join(tmpdir(), 'oss-server-'));
  const store = new OssStore(root);
  for (const bucket of options.buckets ?? []) await store.createBucket(bucket);
  const server = createServer((req, res) => {
    handle(req, res, store, options).catch((err: unknown) => {
      if (err instanceof OssStoreError) return sendError(res, err.status, err.code, err.message);
      if (!res.headersSent && !req.destroyed) return sendError(res, 500, 'InternalError', String(err));
      res.destroy();
    });
  });
  // Listen where `localhost` resolves first, which is where clients will connect.
  const { address } = await lookup('localhost');
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://localhost:${port}`,
    port,
    leftovers: (bucket) => store.leftovers(bucket),
    openUploads: async (bucket) => (await store.openUploads(bucket)).map((u) => u.key),
    async close() {
      await closeServer(server);
      await rm(root, { recursive: true, force: true });
    },
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One object request, as the handlers below see it. */
interface ObjectRequest {
  req: IncomingMessage;
  res: ServerResponse;
  store: OssStore;
  bucket: string;
  key: string;
}

async function handle(req: IncomingMessage, res: ServerResponse, store: OssStore, options: OssServerOptions) {
  const url = new URL(req.url ?? '/', 'http://oss.invalid');
  const query = parseQuery(url.search);
  const [bucket = '', ...rest] = url.pathname.slice(1).split('/');
  const key = decodeURIComponent(rest.join('/'));
  const method = req.method ?? 'GET';

  if (method === 'POST' && bucket && !key && !url.search && isForm(req.headers)) {
    return postObject(req, res, store, bucket, options);
  }
  const denied = authenticate(req, method, canonicalResource(bucket, key, query), query, options);
  if (denied) {
    req.resume();
    return sendError(res, 403, denied.code, denied.message);
  }
  if (!bucket) return sendError(res, 400, 'InvalidBucketName', 'a bucket is required (path style)');
  if (method === 'PUT' && !key) {
    await store.createBucket(bucket);
    return send(res, 200);
  }
  if (!(await store.hasBucket(bucket)))
    return sendError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist.');
  if (!key) {
    if (method !== 'GET') return sendError(res, 405, 'MethodNotAllowed', 'unsupported bucket operation');
    if (query.has('uploads')) return listUploads(res, store, bucket, query);
    return listObjects(res, store, bucket, query);
  }
  const uploadId = query.get('uploadId');
  const object: ObjectRequest = { req, res, store, bucket, key };
  switch (method) {
    case 'PUT':
      if (uploadId) return uploadPart(object, uploadId, Number(query.get('partNumber')));
      if (req.headers['x-oss-copy-source']) return copyObject(object);
      return putObject(object);
    case 'POST':
      if (query.has('uploads')) {
        const id = await store.initiateUpload(bucket, key, contentTypeOf(req));
        return sendXml(res, 200, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: id });
      }
      if (uploadId) return completeUpload(object, uploadId);
      return sendError(res, 405, 'MethodNotAllowed', 'unsupported POST');
    case 'GET':
    case 'HEAD':
      return getObject(object, method === 'HEAD', query.get('response-content-disposition'));
    case 'DELETE':
      if (uploadId) await store.abortUpload(bucket, key, uploadId);
      else await store.remove(bucket, key);
      return send(res, 204);
    default:
      return sendError(res, 405, 'MethodNotAllowed', `unsupported method ${method}`);
  }
}

/** Checks the V1 signature (header or URL); returns the OSS error to answer, or null. */
function authenticate(
  req: IncomingMessage,
  method: string,
  resource: string,
  query: Map<string, string>,
  options: OssServerOptions,
): { code: string; message: string } | null {
  const header = req.headers.authorization;
  let accessKeyId: string;
  let given: string;
  let dateLine: string;
  if (header) {
    const match = /^OSS ([^:]+):(.+)$/.exec(header);
    if (!match) return { code: 'InvalidArgument', message: 'Authorization header is invalid.' };
    [, accessKeyId, given] = match;
    dateLine = String(req.headers['x-oss-date'] ?? req.headers.date ?? '');
    const time = Date.parse(dateLine);
    if (Number.isNaN(time) || Math.abs(Date.now() - time) > MAX_SKEW_MS) {
      return { code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.' };
    }
  } else if (query.has('Signature')) {
    accessKeyId = query.get('OSSAccessKeyId') ?? '';
    given = query.get('Signature') ?? '';
    dateLine = query.get('Expires') ?? '';
    if (!/^\d+$/.test(dateLine) || Number(dateLine) * 1000 < Date.now()) {
      return { code: 'AccessDenied', message: 'Request has expired.' };
    }
  } else {
    return { code: 'AccessDenied', message: 'You have no right to access this object because of bucket acl.' };
  }
  if (accessKeyId !== options.accessKeyId) {
    return { code: 'InvalidAccessKeyId', message: 'The OSS Access Key Id you provided does not exist in our records.' };
  }
  const expected = sign(options.accessKeySecret, stringToSign(method, req.headers, dateLine, resource));
  if (!signaturesMatch(expected, given)) {
    return { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' };
  }
  return null;
} // prettier-ignore

async function putObject({ req, res, store, bucket, key }: ObjectRequest) {
  const { file, size, md5 } = await store.receive(req);
  const expected = req.headers['content-md5'];
  if (expected && expected !== md5.toString('base64')) {
    await store.discard(file);
    return sendError(res, 400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');
  }
  const record: StoredObject = {
    key,
    size,
    etag: quoteEtag(md5.toString('hex')),
    contentType: contentTypeOf(req),
    lastModified: new Date().toUTCString(),
    type: 'Normal',
  };
  await store.commit(bucket, record, file);
  send(res, 200, { ETag: record.etag });
}

/**
 * PostObject: an HTML form to `/bucket/` (multipart/form-data), fields first, the file last. The
 * file part streams to a temp file; its policy is checked with `checkOssPostPolicy` (signature
 * with the account's secret, expiry, conditions, `content-length-range`) and the object is
 * committed only when the form passes, so a refused form stores nothing.
 */
async function postObject(
  req: IncomingMessage,
  res: ServerResponse,
  store: OssStore,
  bucket: string,
  options: OssServerOptions,
) {
  if (!(await store.hasBucket(bucket))) {
    req.resume();
    return sendError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist.');
  }
  const fields = new Map<string, string>();
  let received: Promise<{ file: string; size: number; md5: Buffer }> | undefined;
  const parser = busboy({ headers: req.headers, limits: { fieldSize: 64 * 1024 } });
  parser.on('field', (name: string, value: string) => {
    if (!received) fields.set(name.toLowerCase(), value);
  });
  parser.on('file', (name: string, file: Readable) => {
    if (name !== 'file' || received) return void file.resume();
    received = store.receive(file);
    received.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  });
  const parsed = new Promise<void>((resolve, reject) => parser.on('close', resolve).on('error', reject));
  await pipeline(req, parser);
  await parsed;
  if (!received) return sendError(res, 400, 'InvalidArgument', 'The form has no file field.');
  const { file, size, md5 } = await received;
  const refused = checkOssPostPolicy({ fields, fileSize: size }, bucket, (id) =>
    id === options.accessKeyId ? options.accessKeySecret : undefined,
  );
  const key = fields.get('key') ?? '';
  if (refused || !key) {
    await store.discard(file);
    if (refused) return sendError(res, refused.status, refused.code, refused.message);
    return sendError(res, 400, 'InvalidArgument', 'The form has no key field.');
  }
  const record: StoredObject = {
    key,
    size,
    etag: quoteEtag(md5.toString('hex')),
    contentType: fields.get('content-type') || 'application/octet-stream',
    lastModified: new Date().toUTCString(),
    type: 'Normal',
  };
  await store.commit(bucket, record, file);
  const status = Number(fields.get('success_action_status'));
  send(res, [200, 201].includes(status) ? status : 204, { ETag: record.etag });
}

async function uploadPart({ req, res, store, bucket, key }: ObjectRequest, uploadId: string, partNumber: number) {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
    req.resume();
    return sendError(res, 400, 'InvalidArgument', 'partNumber must be from 1 to 10000');
  }
  const { dir } = await store.upload(bucket, key, uploadId);
  const { file, md5 } = await store.receive(req);
  await store.putPart(dir, partNumber, file, md5);
  send(res, 200, { ETag: quoteEtag(md5.toString('hex')) });
}

async function completeUpload({ req, res, store, bucket, key }: ObjectRequest, uploadId: string) {
  let xml = '';
  for await (const chunk of req) xml += chunk;
  const parts = [...xml.matchAll(/<Part>\s*<PartNumber>(\d+)<\/PartNumber>\s*<ETag>([^<]+)<\/ETag>\s*<\/Part>/g)].map(
    (m) => ({ partNumber: Number(m[1]), etag: m[2].replace(/&quot;/g, '"') }),
  );
  if (parts.length === 0) return sendError(res, 400, 'MalformedXML', 'no parts listed');
  const record = await store.completeUpload(bucket, key, uploadId, parts);
  sendXml(res, 200, 'CompleteMultipartUploadResult', {
    Location: `/${bucket}/${key}`,
    Bucket: bucket,
    Key: key,
    ETag: record.etag,
  });
}

async function copyObject({ req, res, store, bucket, key }: ObjectRequest) {
  const source = decodeURIComponent(String(req.headers['x-oss-copy-source']));
  const match = /^\/([^/]+)\/(.+)$/.exec(source);
  if (!match || match[1] !== bucket)
    return sendError(res, 400, 'InvalidArgument', 'copy source must be in this bucket');
  const record = await store.copy(bucket, match[2], key);
  sendXml(res, 200, 'CopyObjectResult', {
    ETag: record.etag,
    LastModified: new Date(record.lastModified).toISOString(),
  });
}

/** `disposition`: a signed `response-content-disposition`, answered as the header (as OSS does). */
async function getObject(
  { req, res, store, bucket, key }: ObjectRequest,
  headOnly: boolean,
  disposition: string | undefined,
) {
  const record = await store.head(bucket, key);
  const headers: Record<string, string | number> = {
    'Content-Type': record.contentType,
    ETag: record.etag,
    'Last-Modified': record.lastModified,
    'Accept-Ranges': 'bytes',
    'x-oss-object-type': record.type,
    ...(disposition ? { 'Content-Disposition': disposition } : {}),
  };
  const range = parseRange(req.headers.range, record.size);
  if (range === 'unsatisfiable') return sendError(res, 416, 'InvalidRange', 'The requested range is not satisfiable');
  const [start, end] = range ?? [0, record.size - 1];
  headers['Content-Length'] = Math.max(0, end - start + 1);
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${record.size}`;
  res.writeHead(range ? 206 : 200, { 'x-oss-request-id': requestId(), ...headers });
  if (headOnly || record.size === 0) return res.end();
  await pipeline(store.read(bucket, key, start, end), res);
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; a malformed header is ignored, as OSS does. */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === '' && match[2] === '')) return null;
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return [start, end];
}

async function listObjects(res: ServerResponse, store: OssStore, bucket: string, query: Map<string, string>) {
  const prefix = query.get('prefix') ?? '';
  const marker = query.get('marker') ?? '';
  const maxKeys = Math.min(1000, Math.max(1, Number(query.get('max-keys') ?? 100) || 100));
  const matching = (await store.list(bucket)).filter((o) => o.key.startsWith(prefix) && o.key > marker);
  const page = matching.slice(0, maxKeys);
  const truncated = matching.length > maxKeys;
  const contents = page
    .map(
      (o) =>
        `<Contents><Key>${escapeXml(o.key)}</Key><LastModified>${new Date(o.lastModified).toISOString()}</LastModified>` +
        `<ETag>${escapeXml(o.etag)}</ETag><Type>${o.type}</Type><Size>${o.size}</Size>` +
        `<StorageClass>Standard</StorageClass><Owner><ID>0</ID><DisplayName>0</DisplayName></Owner></Contents>`,
    )
    .join('');
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>${escapeXml(bucket)}</Name>` +
    `<Prefix>${escapeXml(prefix)}</Prefix><Marker>${escapeXml(marker)}</Marker><MaxKeys>${maxKeys}</MaxKeys>` +
    `<Delimiter></Delimiter><IsTruncated>${truncated}</IsTruncated>` +
    (truncated ? `<NextMarker>${escapeXml(page[page.length - 1].key)}</NextMarker>` : '') +
    `${contents}</ListBucketResult>`;
  send(res, 200, { 'Content-Type': 'application/xml' }, body);
}

/** ListMultipartUploads (`GET /bucket/?uploads`): prefix, key-marker, upload-id-marker, max-uploads. */
async function listUploads(res: ServerResponse, store: OssStore, bucket: string, query: Map<string, string>) {
  const prefix = query.get('prefix') ?? '';
  const keyMarker = query.get('key-marker') ?? '';
  const idMarker = query.get('upload-id-marker') ?? '';
  const maxUploads = Math.min(1000, Math.max(1, Number(query.get('max-uploads') ?? 1000) || 1000));
  const after = (u: { key: string; uploadId: string }) =>
    u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.uploadId > idMarker);
  const matching = (await store.openUploads(bucket)).filter((u) => u.key.startsWith(prefix) && after(u));
  const page = matching.slice(0, maxUploads);
  const truncated = matching.length > maxUploads;
  const last = page[page.length - 1];
  const uploads = page
    .map(
      (u) =>
        `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.uploadId}</UploadId>` +
        `<Initiated>${u.initiated}</Initiated></Upload>`,
    )
    .join('');
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${escapeXml(bucket)}</Bucket>` +
    `<KeyMarker>${escapeXml(keyMarker)}</KeyMarker><UploadIdMarker>${escapeXml(idMarker)}</UploadIdMarker>` +
    `<NextKeyMarker>${truncated ? escapeXml(last.key) : ''}</NextKeyMarker>` +
    `<NextUploadIdMarker>${truncated ? last.uploadId : ''}</NextUploadIdMarker>` +
    `<MaxUploads>${maxUploads}</MaxUploads><IsTruncated>${truncated}</IsTruncated>${uploads}</ListMultipartUploadsResult>`;
  send(res, 200, { 'Content-Type': 'application/xml' }, body);
}

function contentTypeOf(req: IncomingMessage): string {
  return req.headers['content-type'] || 'application/octet-stream';
}

function requestId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase();
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function send(res: ServerResponse, status: number, headers: Record<string, string> = {}, body?: string) {
  res.writeHead(status, {
    'x-oss-request-id': requestId(),
    'Content-Length': Buffer.byteLength(body ?? ''),
    ...headers,
  });
  res.end(body);
}

function sendXml(res: ServerResponse, status: number, root: string, fields: Record<string, string>) {
  const inner = Object.entries(fields)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('');
  send(
    res,
    status,
    { 'Content-Type': 'application/xml' },
    `<?xml version="1.0" encoding="UTF-8"?>\n<${root}>${inner}</${root}>`,
  );
}

function sendError(res: ServerResponse, status: number, code: string, message: string) {
  const id = requestId();
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>` +
    `<RequestId>${id}</RequestId><HostId>localhost</HostId></Error>`;
  res.writeHead(status, {
    'x-oss-request-id': id,
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
