import OSS from 'ali-oss';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { isStorageError, StorageErrorCode } from '../../errors/storage.error';
import { toStorageError } from '../shared/backend-errors';
import { CloudDriverBase } from '../shared/cloud-driver.base';
import { bindSignal } from '../shared/deadline';
import { MIB, multipartUpload } from '../shared/multipart';
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
import { OSS_TYPE, type OssDriverOptions } from './oss.options';

/**
 * Aliyun OSS through `ali-oss`, V1 signatures. A body that fits in one part is sent with a single
 * PutObject; a larger one with a multipart upload, one part in memory at a time, aborted when the
 * body or any request fails, so nothing is committed (a chunked `putStream` would be bounded by
 * one response timeout over the whole file). Signed uploads are PostObject forms whose policy binds
 * key, Content-Type and size. ali-oss refuses to sign URLs when `endpoint` is an IP address (set a
 * `publicEndpoint` with a host name then).
 */
export class OssDriver extends CloudDriverBase implements StorageDriver {
  protected readonly backend = 'OSS';
  readonly type = OSS_TYPE;
  readonly client: OSS;
  /**
   * Signs client URLs: `client`, or, with `publicEndpoint`, a second client on that endpoint
   * (`signatureUrl` is computed locally; this client never sends a request).
   *
   * Why a second client rather than swapping the origin of `client`'s URL: the V1 signature covers
   * the method, Content-MD5, Content-Type, Expires and `/bucket/key`, not the host, so either would
   * verify; but ali-oss decides the host itself (`bucket.endpoint` unless `cname` or `sldEnable`)
   * and refuses to sign at all when `endpoint` is an IP address, so only a client configured with
   * the public endpoint puts the bucket where that endpoint expects it, whatever the service's
   * own endpoint is (an internal host name, an IP).
   */
  private readonly signer: OSS;
  private readonly transferTimeoutMs: number;

  constructor(
    private readonly options: OssDriverOptions,
    client?: OSS,
  ) {
    super(options);
    this.transferTimeoutMs = Math.max(this.timeoutMs, options.transferTimeoutMs ?? 600_000);
    this.client = client ?? new OSS(ossClientOptions(options, this.timeoutMs));
    this.signer = options.publicEndpoint
      ? new OSS({ ...ossClientOptions(options, this.timeoutMs), endpoint: options.publicEndpoint, internal: false })
      : this.client;
  }

  protected mapError(err: unknown, key: string): Error {
    return mapOssError(err, key);
  }

  /** Creates the bucket when `createBucket` is set. */
  async init(): Promise<void> {
    if (!this.options.createBucket) return;
    await this.call('(bucket)', () => this.client.putBucket(this.options.bucket)).catch((err: unknown) => {
      if ((err as { cause?: { code?: string } }).cause?.code !== 'BucketAlreadyExists') throw err;
    });
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectStat> {
    const mime = options.contentType ?? 'application/octet-stream';
    // A data request may take up to transferTimeoutMs to answer, but must connect within timeoutMs.
    const timeout = [this.timeoutMs, this.transferTimeoutMs] as unknown as number;
    const { client } = this;
    try {
      await multipartUpload(bindSignal(body, options.signal), Math.max(MIB / 10, this.options.partSize ?? 8 * MIB), {
        putWhole: async (data) => void (await client.put(key, data, { mime, timeout })),
        begin: async () => (await client.initMultipartUpload(key, { mime, timeout: this.timeoutMs })).uploadId,
        uploadPart: async (uploadId, partNumber, data) =>
          (await client.uploadPart(key, uploadId, partNumber, data, 0, data.length, { timeout })).etag,
        complete: async (uploadId, parts) =>
          void (await client.completeMultipartUpload(
            key,
            uploadId,
            parts.map((p) => ({ number: p.partNumber, etag: p.etag })),
            { timeout },
          )),
        abort: async (uploadId) => void (await client.abortMultipartUpload(key, uploadId)),
      });
    } catch (err) {
      throw mapOssError(body.errored ?? err, key);
    } finally {
      body.destroy();
    }
    return this.stat(key);
  }

  /** OSS's multipart bounds: parts of 100 KiB to 5 GiB (the last may be smaller), at most 10,000. */
  readonly multipartLimits: MultipartLimits = {
    minPartSize: 100 * 1024,
    maxPartSize: 5 * 1024 * MIB,
    maxParts: 10_000,
  };

  /** InitiateMultipartUpload with the content type the object will have. */
  async beginMultipart(key: string, contentType: string): Promise<string> {
    const out = await this.call(key, () => this.client.initMultipartUpload(key, { mime: contentType }));
    return out.uploadId;
  }

  /**
   * A V1-signed UploadPart URL (`partNumber` and `uploadId` are signed sub-resources), for
   * `publicEndpoint` when one is set. The Content-Type is signed too, so the client must send it.
   */
  async signPart(key: string, uploadId: string, partNumber: number, options: SignPartOptions): Promise<SignedUpload> {
    const { url, expiresAt } = this.signedUrl(key, {
      method: 'PUT',
      expires: options.expiresIn,
      'Content-Type': options.contentType,
      subResource: { partNumber: String(partNumber), uploadId },
    } as OSS.SignatureUrlOptions);
    return { url, method: 'PUT', headers: { 'Content-Type': options.contentType }, expiresAt };
  }

  async completeMultipart(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const list = parts.map((p) => ({ number: p.partNumber, etag: p.etag }));
    try {
      await this.client.completeMultipartUpload(key, uploadId, list, { timeout: this.transferTimeoutMs });
    } catch (err) {
      throw mapOssError(err, key);
    }
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.call(key, () => this.client.abortMultipartUpload(key, uploadId)).catch((err: unknown) => {
      if (!isStorageError(err, StorageErrorCode.NOT_FOUND)) throw err;
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const { range, signal } = options;
    const headers = range ? { Range: `bytes=${range.start}-${range.end}` } : undefined;
    const result = await this.call(key, () => this.client.getStream(key, { headers }));
    return bindSignal(result.stream as Readable, signal);
  }

  async stat(key: string): Promise<ObjectStat> {
    const { res } = await this.call(key, () => this.client.head(key));
    const headers = res.headers as Record<string, string | undefined>;
    return {
      key,
      size: Number(headers['content-length'] ?? 0),
      lastModified: new Date(headers['last-modified'] ?? 0),
      contentType: headers['content-type'],
      etag: headers.etag,
    };
  }

  async delete(key: string): Promise<void> {
    await this.call(key, () => this.client.delete(key));
  }

  /** Server-side CopyObject (up to 1 GB on OSS); not bounded by `timeoutMs` as a whole. */
  async copy(from: string, to: string): Promise<void> {
    try {
      await this.client.copy(to, from, { timeout: this.transferTimeoutMs });
    } catch (err) {
      throw mapOssError(err, from);
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectStat> {
    let marker: string | undefined;
    do {
      const page = await this.call(prefix, () =>
        this.client.list({ prefix: prefix || undefined, marker, 'max-keys': 1000 } as OSS.ListObjectsQuery, {}),
      );
      for (const item of page.objects ?? []) {
        yield { key: item.name, size: Number(item.size), lastModified: new Date(item.lastModified), etag: item.etag };
      }
      marker = page.isTruncated ? page.nextMarker : undefined;
    } while (marker);
  }

  /**
   * A PostObject form for `publicEndpoint` when one is set: a policy signed with
   * `calculatePostSignature` binding the bucket, the key, the Content-Type and, with `maxSize`,
   * `content-length-range`, so OSS itself refuses a larger body (400 EntityTooLarge) and a form
   * for another key or type (403). The form goes to the bucket's URL, built as ali-oss builds its
   * own request URLs (`bucket.endpoint`, or `endpoint/bucket/` with `sldEnable`, or the `cname`).
   */
  async signUpload(key: string, options: SignUploadOptions): Promise<SignedUpload> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const expiresAt = Date.now() + options.expiresIn * 1000;
    const conditions: unknown[] = [
      { bucket: this.options.bucket },
      ['eq', '$key', key],
      ['eq', '$content-type', options.contentType],
    ];
    if (options.maxSize !== undefined) conditions.push(['content-length-range', 0, options.maxSize]);
    try {
      const signed = this.signer.calculatePostSignature({ expiration: new Date(expiresAt).toISOString(), conditions });
      return {
        url: bucketUrl(this.signer, this.options.bucket),
        method: 'POST',
        headers: {},
        fields: {
          key,
          'Content-Type': options.contentType,
          OSSAccessKeyId: signed.OSSAccessKeyId,
          policy: signed.policy,
          Signature: signed.Signature,
          success_action_status: '204',
        },
        expiresAt,
      };
    } catch (err) {
      throw mapOssError(err, key);
    }
  }

  /** A V1 signed GET URL, for `publicEndpoint` when one is set; `fileName` as the response's Content-Disposition. */
  async signDownload(key: string, options: SignDownloadOptions): Promise<SignedUrl> {
    const { url, expiresAt } = this.signedUrl(key, {
      method: 'GET',
      expires: options.expiresIn,
      ...(options.fileName ? { response: { 'content-disposition': attachmentDisposition(options.fileName) } } : {}),
    });
    return { url, method: 'GET', headers: {}, expiresAt };
  }

  /** `signatureUrl` within the 7-day bound, errors mapped; `expiresAt` (epoch ms) from the URL's `Expires`. */
  private signedUrl(key: string, options: OSS.SignatureUrlOptions): { url: string; expiresAt: number } {
    checkExpiresIn(options.expires ?? 0, MAX_SIGN_SECONDS);
    let url: string;
    try {
      url = this.signer.signatureUrl(key, options);
    } catch (err) {
      throw mapOssError(err, key);
    }
    return { url, expiresAt: Number(new URL(url).searchParams.get('Expires')) * 1000 };
  }

  /** ali-oss keeps no sockets of its own beyond its shared agent; nothing to release. */
  async close(): Promise<void> {}
}

/** The driver for a configured instance (its `init` runs next). */
export function createDriver(options: OssDriverOptions): OssDriver {
  return new OssDriver(options);
}

function ossClientOptions(options: OssDriverOptions, timeoutMs: number): OSS.Options {
  const { accessKeyId, accessKeySecret, stsToken, bucket, region, endpoint, secure, internal, cname, sldEnable } =
    options;
  return {
    accessKeyId,
    accessKeySecret,
    stsToken,
    bucket,
    region,
    endpoint,
    secure,
    internal,
    cname,
    timeout: timeoutMs,
    ...({ sldEnable, retryMax: 0 } as object),
  };
}

/**
 * The URL a form for `bucket` is posted to: ali-oss's own request URL for the bucket (it honours
 * `cname`, `sldEnable` and the endpoint's scheme and port). Like `signatureUrl`, refuses an IP
 * endpoint, where ali-oss could only address the bucket through a rewritten Host header.
 */
function bucketUrl(client: OSS, bucket: string): string {
  const { _getReqUrl, options } = client as unknown as {
    _getReqUrl(this: OSS, params: { bucket: string }): string;
    options: { endpoint: { hostname: string } };
  };
  if (isIP(options.endpoint.hostname)) throw new Error('can not get the object URL when endpoint is IP');
  return _getReqUrl.call(client, { bucket });
}

/** Maps `ali-oss` errors (`status` -1/-2 for socket failures, OSS `code`s) onto our codes. */
export function mapOssError(err: unknown, key: string): Error {
  const e = err as { status?: number; code?: string };
  const status = typeof e?.status === 'number' && e.status > 0 ? e.status : undefined;
  return toStorageError(err, key, 'OSS', { status, code: e?.code });
}
