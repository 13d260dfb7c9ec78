import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { Client, type ClientOptions } from 'minio';
import { isStorageError, StorageErrorCode } from '../../errors/storage.error';
import { toStorageError } from '../shared/backend-errors';
import { narrowToRange } from '../shared/byte-range';
import { CloudDriverBase } from '../shared/cloud-driver.base';
import { bindSignal } from '../shared/deadline';
import { MIB, multipartUpload, S3_MULTIPART_LIMITS } from '../shared/multipart';
import { attachmentDisposition } from '../shared/download-disposition';
import { checkExpiresIn, MAX_SIGN_SECONDS } from '../shared/sign-expiry';
import type {
  GetOptions,
  MultipartLimits,
  ObjectStat,
  PutOptions,
  SignDownloadOptions,
  SignedUpload,
  SignedUrl,
  SignPartOptions,
  SignUploadOptions,
  StorageDriver,
  UploadedPart,
} from '../storage-driver';
import { MINIO_TYPE, type MinioDriverOptions } from './minio.options';

/**
 * MinIO (and other S3 servers) through the `minio` client.
 *
 * Puts do not use `putObject` with a stream: when its source errors it neither rejects nor
 * aborts the multipart upload (the error is not forwarded to its chunker), and with an unknown
 * size it buffers parts of about 550 MB. The driver runs the multipart steps itself instead, one
 * part in memory, aborting on any failure so nothing is committed.
 *
 * Signed uploads are presigned POST forms (`presignedPostPolicy`) whose policy binds the bucket,
 * the key, the content type, the expiry and, with `maxSize`, the size (`content-length-range`):
 * the backend refuses a larger body before storing it. `sign/complete` checks both again.
 */
export class MinioDriver extends CloudDriverBase implements StorageDriver {
  protected readonly backend = 'MinIO';
  readonly type = MINIO_TYPE;
  readonly client: Client;
  private readonly bucket: string;
  /** The client that presigns for `publicEndpoint`, made on first use (see `presigner`). */
  private publicSigner?: Promise<Client>;

  constructor(
    private readonly options: MinioDriverOptions,
    client?: Client,
  ) {
    super(options);
    this.bucket = options.bucket;
    this.client = client ?? new Client(minioClientOptions(options, this.timeoutMs));
  }

  protected mapError(err: unknown, key: string): Error {
    return mapMinioError(err, key);
  }

  /** Creates the bucket when `createBucket` is set and it is missing. */
  async init(): Promise<void> {
    if (!this.options.createBucket) return;
    const exists = await this.call('(bucket)', () => this.client.bucketExists(this.bucket));
    if (!exists) await this.call('(bucket)', () => this.client.makeBucket(this.bucket, this.options.region ?? ''));
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectStat> {
    const headers = { 'Content-Type': options.contentType ?? 'application/octet-stream' };
    const { client, bucket } = this;
    try {
      await multipartUpload(bindSignal(body, options.signal), Math.max(5 * MIB, this.options.partSize ?? 16 * MIB), {
        putWhole: async (data) => void (await client.putObject(bucket, key, data, data.length, headers)),
        begin: () => client.initiateNewMultipartUpload(bucket, key, headers),
        uploadPart: async (uploadID, partNumber, data) => {
          const part = await client.uploadPart(
            { bucketName: bucket, objectName: key, uploadID, partNumber, headers: {} },
            data,
          );
          return part.etag;
        },
        complete: async (uploadId, parts) =>
          void (await client.completeMultipartUpload(
            bucket,
            key,
            uploadId,
            parts.map((p) => ({ part: p.partNumber, etag: p.etag })),
          )),
        abort: (uploadId) => client.abortMultipartUpload(bucket, key, uploadId),
      });
    } catch (err) {
      throw mapMinioError(body.errored ?? err, key);
    } finally {
      body.destroy();
    }
    return this.stat(key);
  }

  readonly multipartLimits: MultipartLimits = S3_MULTIPART_LIMITS;

  async beginMultipart(key: string, contentType: string): Promise<string> {
    return this.call(key, () =>
      this.client.initiateNewMultipartUpload(this.bucket, key, { 'Content-Type': contentType }),
    );
  }

  /** A presigned UploadPart (`partNumber`, `uploadId` in the signed query), for `publicEndpoint` when one is set. */
  async signPart(key: string, uploadId: string, partNumber: number, options: SignPartOptions): Promise<SignedUpload> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const requestDate = new Date(Math.floor(Date.now() / 1000) * 1000);
    const params = { partNumber: String(partNumber), uploadId };
    const url = await this.call(key, async () =>
      (await this.presigner()).presignedUrl('PUT', this.bucket, key, options.expiresIn, params, requestDate),
    );
    return { url, method: 'PUT', headers: {}, expiresAt: requestDate.getTime() + options.expiresIn * 1000 };
  }

  async completeMultipart(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const etags = parts.map((p) => ({ part: p.partNumber, etag: p.etag }));
    try {
      await this.client.completeMultipartUpload(this.bucket, key, uploadId, etags);
    } catch (err) {
      throw mapMinioError(err, key);
    }
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.call(key, () => this.client.abortMultipartUpload(this.bucket, key, uploadId)).catch((err: unknown) => {
      if (!isStorageError(err, StorageErrorCode.NOT_FOUND)) throw err;
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const { range, signal } = options;
    if (!range) return bindSignal(await this.call(key, () => this.client.getObject(this.bucket, key)), signal);
    // The stream is the HTTP response itself, so its Content-Range is at hand.
    const res = (await this.call(key, () =>
      this.client.getPartialObject(this.bucket, key, range.start, range.end - range.start + 1),
    )) as Readable & { headers?: Record<string, string | undefined> };
    return bindSignal(narrowToRange(res, range, res.headers?.['content-range']), signal);
  }

  async stat(key: string): Promise<ObjectStat> {
    const info = await this.call(key, () => this.client.statObject(this.bucket, key));
    const contentType = info.metaData?.['content-type'];
    return {
      key,
      size: info.size,
      lastModified: info.lastModified,
      contentType: typeof contentType === 'string' ? contentType : undefined,
      etag: info.etag,
    };
  }

  async delete(key: string): Promise<void> {
    await this.call(key, () => this.client.removeObject(this.bucket, key));
  }

  /** Server-side copy; not bounded by `timeoutMs` as a whole. */
  async copy(from: string, to: string): Promise<void> {
    try {
      // The (bucket, object, source) form escapes the source per segment; the options form uses encodeURI.
      await this.client.copyObject(this.bucket, to, `/${this.bucket}/${from}`);
    } catch (err) {
      throw mapMinioError(err, from);
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectStat> {
    try {
      for await (const item of this.client.listObjectsV2(this.bucket, prefix, true)) {
        if (!item.name) continue;
        yield { key: item.name, size: item.size, lastModified: item.lastModified, etag: item.etag };
      }
    } catch (err) {
      throw mapMinioError(err, prefix);
    }
  }

  /**
   * A presigned POST form bound to the key, type, expiry and size (see the class comment), for
   * `publicEndpoint` when one is set.
   */
  async signUpload(key: string, options: SignUploadOptions): Promise<SignedUpload> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const expires = new Date((Math.floor(Date.now() / 1000) + options.expiresIn) * 1000);
    const { postURL, formData } = await this.call(key, async () => {
      const presigner = await this.presigner();
      const policy = presigner.newPostPolicy();
      policy.setBucket(this.bucket);
      policy.setKey(key);
      policy.setContentType(options.contentType);
      policy.setExpires(expires);
      if (options.maxSize !== undefined) policy.setContentLengthRange(0, options.maxSize);
      return presigner.presignedPostPolicy(policy);
    });
    return { url: postURL, method: 'POST', headers: {}, fields: { ...formData }, expiresAt: expires.getTime() };
  }

  /** A presigned GET, for `publicEndpoint` when one is set; `fileName` as the response's Content-Disposition. */
  async signDownload(key: string, options: SignDownloadOptions): Promise<SignedUrl> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const requestDate = new Date(Math.floor(Date.now() / 1000) * 1000);
    const params: Record<string, string> = {};
    if (options.fileName) params['response-content-disposition'] = attachmentDisposition(options.fileName);
    const url = await this.call(key, async () =>
      (await this.presigner()).presignedUrl('GET', this.bucket, key, options.expiresIn, params, requestDate),
    );
    return { url, method: 'GET', headers: {}, expiresAt: requestDate.getTime() + options.expiresIn * 1000 };
  }

  /**
   * The client that presigns URLs for clients: `client` itself, or, with `publicEndpoint`, a
   * second client on that host and port. SigV4 signs the Host header, so a URL made for the
   * service's address and then pointed elsewhere is refused. The second client is given the
   * region (the configured one, else the bucket's as `client` learns it from the service's
   * address), because without one its presigner would first ask the public address for it.
   */
  private presigner(): Promise<Client> {
    const { publicEndpoint } = this.options;
    if (!publicEndpoint) return Promise.resolve(this.client);
    this.publicSigner ??= (async () => {
      const url = new URL(publicEndpoint);
      const useSSL = url.protocol === 'https:';
      return new Client({
        endPoint: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : useSSL ? 443 : 80,
        useSSL,
        accessKey: this.options.accessKey,
        secretKey: this.options.secretKey,
        sessionToken: this.options.sessionToken,
        region: this.options.region ?? (await this.client.getBucketRegionAsync(this.bucket)),
        pathStyle: this.options.pathStyle,
      });
    })().catch((err: unknown) => {
      this.publicSigner = undefined;
      throw err;
    });
    return this.publicSigner;
  }

  /** The clients keep no pool of their own beyond Node's global agent; nothing to release. */
  async close(): Promise<void> {}
}

/** The driver for a configured instance (its `init` runs next). */
export function createDriver(options: MinioDriverOptions): MinioDriver {
  return new MinioDriver(options);
}

/** SDK client options from ours; HTTPS unless `useSSL: false`, as the client itself defaults. */
function minioClientOptions(options: MinioDriverOptions, timeoutMs: number): ClientOptions {
  const useSSL = options.useSSL ?? true;
  return {
    endPoint: options.endPoint,
    port: options.port,
    useSSL,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    sessionToken: options.sessionToken,
    region: options.region,
    pathStyle: options.pathStyle,
    transport: idleTimeoutTransport(useSSL, timeoutMs),
  };
}

/**
 * An `http(s).request` that destroys a request after `timeoutMs` without a byte either way: the
 * `minio` client has no timeout of its own and would wait forever on a silent server.
 */
function idleTimeoutTransport(useSSL: boolean, timeoutMs: number): ClientOptions['transport'] {
  const request = ((options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void) => {
    const req = (useSSL ? https : http).request(options, callback);
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    return req;
  }) as typeof http.request;
  return { request };
}

/** Maps `minio` errors (S3Error with a `code`, socket errors) onto our codes. */
export function mapMinioError(err: unknown, key: string): Error {
  const e = err as { code?: string; statusCode?: number };
  return toStorageError(err, key, 'MinIO', { code: e?.code, status: e?.statusCode });
}
