import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import { isStorageError, StorageErrorCode } from '../../errors/storage.error';
import { toStorageError } from '../shared/backend-errors';
import { narrowToRange } from '../shared/byte-range';
import { CloudDriverBase } from '../shared/cloud-driver.base';
import { bindSignal, withDeadline } from '../shared/deadline';
import { MIB, multipartUpload, S3_MULTIPART_LIMITS } from '../shared/multipart';
import { encodeKey } from '../shared/public-url';
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
  UnfinishedUpload,
  UploadedPart,
} from '../storage-driver';
import { S3_TYPE, type S3DriverOptions } from './s3.options';

/**
 * AWS S3 and S3-compatible stores through `@aws-sdk/client-s3`. Puts send one PutObject for a
 * body that fits in a part, else a multipart upload (`queueSize` parts in flight) that is aborted
 * when the body or a request fails, so nothing is committed. Every request of a put is bounded by
 * `timeoutMs` as a whole, the SDK's retries included (lib-storage's `Upload` passes no signal to
 * its requests, so a hung backend cost every attempt's socket timeout, and its abort was not
 * awaited). An abort that could not be sent leaves an open upload that the reconciler aborts.
 * Signed uploads are presigned POST forms whose policy binds the key, the content type, the
 * expiry and, with `maxSize`, the size (`content-length-range`): S3 refuses a larger body with
 * 400 EntityTooLarge before storing it.
 */
export class S3Driver extends CloudDriverBase implements StorageDriver {
  protected readonly backend = 'S3';
  readonly type = S3_TYPE;
  readonly client: S3Client;
  /**
   * Presigns client URLs: `client` itself, or, with `publicEndpoint`, a second client on that
   * endpoint. SigV4 signs the Host header, so a URL made for the service's endpoint and then
   * pointed elsewhere is refused; this one is signed for the host clients use. Presigning is
   * offline: this client never sends a request.
   */
  private readonly presigner: S3Client;

  constructor(
    private readonly options: S3DriverOptions,
    client?: S3Client,
  ) {
    super(options);
    this.client = client ?? new S3Client(s3ClientConfig(options, this.timeoutMs));
    this.presigner = options.publicEndpoint
      ? new S3Client({
          ...s3ClientConfig(options, this.timeoutMs),
          endpoint: options.publicEndpoint,
          // The same credentials provider, so temporary credentials are resolved once.
          credentials: options.credentials ?? this.client.config.credentials,
        })
      : this.client;
  }

  protected mapError(err: unknown, key: string): Error {
    return mapS3Error(err, key);
  }

  /** Creates the bucket when `createBucket` is set and it is missing. */
  async init(): Promise<void> {
    if (!this.options.createBucket) return;
    const Bucket = this.options.bucket;
    try {
      await this.call('(bucket)', (abortSignal) =>
        this.client.send(new HeadBucketCommand({ Bucket }), { abortSignal }),
      );
    } catch {
      await this.call('(bucket)', (abortSignal) =>
        this.client.send(new CreateBucketCommand({ Bucket }), { abortSignal }),
      );
    }
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectStat> {
    const params = { Bucket: this.options.bucket, Key: key };
    const ContentType = options.contentType ?? 'application/octet-stream';
    const { client } = this;
    // Each request within `timeoutMs`, retries included; a failure is mapped once, below.
    const within = <T>(op: (abortSignal: AbortSignal) => Promise<T>) => withDeadline(this.timeoutMs, this.backend, op);
    try {
      await multipartUpload(
        bindSignal(body, options.signal),
        Math.max(5 * MIB, this.options.partSize ?? 8 * MIB),
        {
          putWhole: (data) =>
            within(async (abortSignal) => {
              await client.send(new PutObjectCommand({ ...params, Body: data, ContentType }), { abortSignal });
            }),
          begin: () =>
            within(async (abortSignal) => {
              const out = await client.send(new CreateMultipartUploadCommand({ ...params, ContentType }), {
                abortSignal,
              });
              return out.UploadId ?? '';
            }),
          uploadPart: (UploadId, PartNumber, data) =>
            within(async (abortSignal) => {
              const out = await client.send(new UploadPartCommand({ ...params, UploadId, PartNumber, Body: data }), {
                abortSignal,
              });
              return out.ETag ?? '';
            }),
          complete: (UploadId, parts) =>
            within(async (abortSignal) => {
              const Parts = parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag }));
              await client.send(
                new CompleteMultipartUploadCommand({ ...params, UploadId, MultipartUpload: { Parts } }),
                {
                  abortSignal,
                },
              );
            }),
          abort: (UploadId) => this.abortUnfinishedUpload({ key, uploadId: UploadId, initiated: new Date() }),
        },
        this.options.queueSize ?? 4,
      );
    } catch (err) {
      throw mapS3Error(body.errored ?? err, key);
    } finally {
      body.destroy();
    }
    return this.stat(key);
  }

  /** Multipart uploads begun and neither completed nor aborted (ListMultipartUploads). */
  async *listUnfinishedUploads(): AsyncIterable<UnfinishedUpload> {
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const page = await this.call('(uploads)', (abortSignal) =>
        this.client.send(new ListMultipartUploadsCommand({ Bucket: this.options.bucket, KeyMarker, UploadIdMarker }), {
          abortSignal,
        }),
      );
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId) yield { key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) };
      }
      [KeyMarker, UploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [];
    } while (KeyMarker);
  }

  /** Aborts one (AbortMultipartUpload): its parts are removed. */
  async abortUnfinishedUpload(upload: UnfinishedUpload): Promise<void> {
    await this.call(upload.key, (abortSignal) =>
      this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.options.bucket, Key: upload.key, UploadId: upload.uploadId }),
        { abortSignal },
      ),
    );
  }

  readonly multipartLimits: MultipartLimits = S3_MULTIPART_LIMITS;

  /** CreateMultipartUpload with the content type the object will have. */
  async beginMultipart(key: string, contentType: string): Promise<string> {
    const out = await this.call(key, (abortSignal) =>
      this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.options.bucket, Key: key, ContentType: contentType }),
        { abortSignal },
      ),
    );
    return out.UploadId ?? '';
  }

  /** A presigned UploadPart (no headers bound), for `publicEndpoint` when one is set. */
  async signPart(key: string, uploadId: string, partNumber: number, options: SignPartOptions): Promise<SignedUpload> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000);
    const command = new UploadPartCommand({
      Bucket: this.options.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
    });
    try {
      const url = await getSignedUrl(this.presigner, command, { expiresIn: options.expiresIn, signingDate });
      return { url, method: 'PUT', headers: {}, expiresAt: signingDate.getTime() + options.expiresIn * 1000 };
    } catch (err) {
      throw mapS3Error(err, key);
    }
  }

  /** CompleteMultipartUpload; bounded by `transfer` time, as S3 may take long to join large parts. */
  async completeMultipart(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const Parts = parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag }));
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.options.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts },
        }),
      );
    } catch (err) {
      throw mapS3Error(err, key);
    }
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.abortUnfinishedUpload({ key, uploadId, initiated: new Date() }).catch((err: unknown) => {
      if (!isStorageError(err, StorageErrorCode.NOT_FOUND)) throw err;
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const { range, signal } = options;
    const out = await this.call(key, (abortSignal) =>
      this.client.send(
        new GetObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
        { abortSignal },
      ),
    );
    const body = out.Body as Readable;
    return bindSignal(range ? narrowToRange(body, range, out.ContentRange) : body, signal);
  }

  async stat(key: string): Promise<ObjectStat> {
    const out = await this.call(key, (abortSignal) =>
      this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }), { abortSignal }),
    );
    return {
      key,
      size: out.ContentLength ?? 0,
      lastModified: out.LastModified ?? new Date(0),
      contentType: out.ContentType,
      etag: out.ETag,
    };
  }

  async delete(key: string): Promise<void> {
    await this.call(key, (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }), { abortSignal }),
    );
  }

  /** Server-side CopyObject (up to 5 GiB); not bounded by `timeoutMs` as a whole. */
  async copy(from: string, to: string): Promise<void> {
    const Bucket = this.options.bucket;
    try {
      await this.client.send(new CopyObjectCommand({ Bucket, Key: to, CopySource: `${Bucket}/${encodeKey(from)}` }));
    } catch (err) {
      throw mapS3Error(err, from);
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectStat> {
    let ContinuationToken: string | undefined;
    do {
      const page = await this.call(prefix, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix || undefined, ContinuationToken }),
          { abortSignal },
        ),
      );
      for (const item of page.Contents ?? []) {
        if (!item.Key) continue;
        yield { key: item.Key, size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0), etag: item.ETag };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /**
   * A presigned PUT, for `publicEndpoint` when one is set; the client must send exactly the
   * returned `Content-Type`.
   */
  async signUpload(key: string, options: SignUploadOptions): Promise<SignedUpload> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    try {
      const { url, fields } = await createPresignedPost(this.presigner, {
        Bucket: this.options.bucket,
        Key: key,
        Fields: { 'Content-Type': options.contentType },
        Conditions: options.maxSize === undefined ? [] : [['content-length-range', 0, options.maxSize]],
        Expires: options.expiresIn,
      });
      return { url, method: 'POST', headers: {}, fields, expiresAt: policyExpiry(fields.Policy) };
    } catch (err) {
      throw mapS3Error(err, key);
    }
  }

  /** A presigned GET, for `publicEndpoint` when one is set; `fileName` as the response's Content-Disposition. */
  async signDownload(key: string, options: SignDownloadOptions): Promise<SignedUrl> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000);
    const command = new GetObjectCommand({
      Bucket: this.options.bucket,
      Key: key,
      ResponseContentDisposition: options.fileName ? attachmentDisposition(options.fileName) : undefined,
    });
    try {
      const url = await getSignedUrl(this.presigner, command, { expiresIn: options.expiresIn, signingDate });
      return { url, method: 'GET', headers: {}, expiresAt: signingDate.getTime() + options.expiresIn * 1000 };
    } catch (err) {
      throw mapS3Error(err, key);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    if (this.presigner !== this.client) this.presigner.destroy();
  }
}

/** The driver for a configured instance (its `init` runs next). */
export function createDriver(options: S3DriverOptions): S3Driver {
  return new S3Driver(options);
}

/** SDK client options from ours: explicit timeouts, checksums only where S3 requires them. */
function s3ClientConfig(options: S3DriverOptions, timeoutMs: number): S3ClientConfig {
  return {
    region: options.region ?? 'us-east-1',
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: options.credentials,
    // Default CRC32 checksums break presigned PUTs (a checksum of the empty body gets signed in)
    // and S3-compatible stores that do not know them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: timeoutMs, socketTimeout: timeoutMs },
  };
}

/** Maps `@aws-sdk/client-s3` errors (service exceptions and socket errors) onto our codes. */
export function mapS3Error(err: unknown, key: string): Error {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return toStorageError(err, key, 'S3', { status: e?.$metadata?.httpStatusCode, code: e?.Code ?? e?.name });
}

/** The `expiration` a base64 POST policy carries, in epoch ms. */
export function policyExpiry(policy: string): number {
  const { expiration } = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as { expiration: string };
  return Date.parse(expiration);
}
