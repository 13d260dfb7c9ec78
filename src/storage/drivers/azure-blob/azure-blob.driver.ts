import {
  BlobSASPermissions,
  BlobServiceClient,
  type ContainerClient,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StorageError, StorageErrorCode } from '../../errors/storage.error';
import { toStorageError } from '../shared/backend-errors';
import { CloudDriverBase } from '../shared/cloud-driver.base';
import { bindSignal } from '../shared/deadline';
import { MIB } from '../shared/multipart';
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
import { AZURE_BLOB_TYPE, type AzureBlobDriverOptions } from './azure-blob.options';

/**
 * Azure Blob Storage block blobs through `@azure/storage-blob`. Puts stage blocks with
 * `uploadStream` and commit the block list only once the body has ended, so a body that errors
 * leaves the blob as it was (the staged blocks stay uncommitted, invisible, and Azure drops them
 * after a week). Copies are server-side within the account.
 *
 * Gap: a SAS (create + write) cannot bind the content type or a size limit; the returned
 * `Content-Type` header is advice and the service must check type and size after the upload.
 */
export class AzureBlobDriver extends CloudDriverBase implements StorageDriver {
  protected readonly backend = 'Azure Blob';
  readonly type = AZURE_BLOB_TYPE;
  readonly container: ContainerClient;

  constructor(
    private readonly options: AzureBlobDriverOptions,
    container?: ContainerClient,
  ) {
    super(options);
    this.container = container ?? azureContainerClient(options, this.timeoutMs);
  }

  protected mapError(err: unknown, key: string): Error {
    return mapAzureError(err, key);
  }

  /** Creates the container when `createBucket` is set and it is missing. */
  async init(): Promise<void> {
    if (!this.options.createBucket) return;
    await this.call('(container)', (abortSignal) => this.container.createIfNotExists({ abortSignal }));
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectStat> {
    const blob = this.container.getBlockBlobClient(key);
    try {
      await blob.uploadStream(
        bindSignal(body, options.signal),
        Math.max(MIB, this.options.blockSize ?? 4 * MIB),
        this.options.concurrency ?? 4,
        {
          blobHTTPHeaders: { blobContentType: options.contentType ?? 'application/octet-stream' },
          abortSignal: options.signal,
        },
      );
    } catch (err) {
      throw mapAzureError(body.errored ?? err, key);
    } finally {
      body.destroy();
    }
    return this.stat(key);
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const { range, signal } = options;
    const blob = this.container.getBlobClient(key);
    const response = await this.call(key, (abortSignal) =>
      range
        ? blob.download(range.start, range.end - range.start + 1, { abortSignal })
        : blob.download(0, undefined, { abortSignal }),
    );
    return bindSignal(response.readableStreamBody as Readable, signal);
  }

  async stat(key: string): Promise<ObjectStat> {
    const props = await this.call(key, (abortSignal) =>
      this.container.getBlobClient(key).getProperties({ abortSignal }),
    );
    return {
      key,
      size: props.contentLength ?? 0,
      lastModified: props.lastModified ?? new Date(0),
      contentType: props.contentType,
      etag: props.etag,
    };
  }

  async delete(key: string): Promise<void> {
    await this.call(key, (abortSignal) => this.container.getBlobClient(key).deleteIfExists({ abortSignal }));
  }

  /** Server-side copy within the account, waited for; not bounded by `timeoutMs` as a whole. */
  async copy(from: string, to: string): Promise<void> {
    const source = this.container.getBlobClient(from);
    try {
      const poller = await this.container.getBlobClient(to).beginCopyFromURL(source.url, { intervalInMs: 200 });
      await poller.pollUntilDone();
    } catch (err) {
      throw mapAzureError(err, from);
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectStat> {
    const pages = this.container.listBlobsFlat({ prefix: prefix || undefined }).byPage({ maxPageSize: 1000 });
    for (;;) {
      const page = await this.call(prefix, () => pages.next());
      if (page.done) return;
      for (const item of page.value.segment.blobItems) {
        const { contentLength, lastModified, contentType, etag } = item.properties;
        yield { key: item.name, size: contentLength ?? 0, lastModified, contentType, etag };
      }
    }
  }

  /**
   * A blob SAS URL with create + write permission (see the class comment for what it cannot
   * bind), on `publicEndpoint` when one is set.
   */
  async signUpload(key: string, options: SignUploadOptions): Promise<SignedUpload> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const blob = this.container.getBlockBlobClient(key);
    this.assertAccountKey(blob.credential, key);
    const expiresOn = new Date((Math.floor(Date.now() / 1000) + options.expiresIn) * 1000);
    const url = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('cw'), expiresOn });
    return {
      url: this.forClients(url, key),
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': options.contentType },
      expiresAt: expiresOn.getTime(),
    };
  }

  /** Azure's block bounds: blocks up to 4000 MiB, at most 50,000 per blob; no minimum. */
  readonly multipartLimits: MultipartLimits = { minPartSize: 1, maxPartSize: 4000 * MIB, maxParts: 50_000 };

  /**
   * Azure has no upload to begin: blocks are staged on the blob itself and stay invisible until
   * the block list is committed. The id only names this upload's blocks (see `blockId`), so two
   * uploads of one key never commit each other's blocks.
   */
  async beginMultipart(): Promise<string> {
    return randomBytes(9).toString('hex');
  }

  /**
   * A SAS URL (write permission) for Put Block: `comp=block&blockid=…` appended after the SAS,
   * on `publicEndpoint` when one is set. Azure answers 201 with no ETag worth keeping: blocks
   * are committed by id.
   */
  async signPart(key: string, uploadId: string, partNumber: number, options: SignPartOptions): Promise<SignedUpload> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const blob = this.container.getBlockBlobClient(key);
    this.assertAccountKey(blob.credential, key);
    const expiresOn = new Date((Math.floor(Date.now() / 1000) + options.expiresIn) * 1000);
    const url = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('w'), expiresOn });
    const block = `comp=block&blockid=${encodeURIComponent(blockId(uploadId, partNumber))}`;
    return { url: `${this.forClients(url, key)}&${block}`, method: 'PUT', headers: {}, expiresAt: expiresOn.getTime() };
  }

  /** Commits the blocks of `parts`, in order, as the blob's content, with `contentType`. */
  async completeMultipart(key: string, uploadId: string, parts: UploadedPart[], contentType: string): Promise<void> {
    const blob = this.container.getBlockBlobClient(key);
    const ids = parts.map((p) => blockId(uploadId, p.partNumber));
    await this.call(key, (abortSignal) =>
      blob.commitBlockList(ids, { blobHTTPHeaders: { blobContentType: contentType }, abortSignal }),
    );
  }

  /**
   * Nothing to abort at the backend: uncommitted blocks are invisible, are replaced by the next
   * commit of the blob, and are dropped by Azure after seven days. Removes a blob a commit made.
   */
  async abortMultipart(key: string): Promise<void> {
    await this.delete(key);
  }

  /**
   * A blob SAS URL with read permission only, on `publicEndpoint` when one is set; `fileName` as
   * the response's Content-Disposition (`rscd`, signed into the SAS).
   */
  async signDownload(key: string, options: SignDownloadOptions): Promise<SignedUrl> {
    checkExpiresIn(options.expiresIn, MAX_SIGN_SECONDS);
    const blob = this.container.getBlobClient(key);
    this.assertAccountKey(blob.credential, key);
    const expiresOn = new Date((Math.floor(Date.now() / 1000) + options.expiresIn) * 1000);
    const url = await blob.generateSasUrl({
      permissions: BlobSASPermissions.parse('r'),
      expiresOn,
      contentDisposition: options.fileName ? attachmentDisposition(options.fileName) : undefined,
    });
    return { url: this.forClients(url, key), method: 'GET', headers: {}, expiresAt: expiresOn.getTime() };
  }

  /**
   * `url` (under this container) with the blob endpoint's base replaced by `publicEndpoint`:
   * scheme, host, port and, for path-style emulator URLs, the account segment. A SAS signs the
   * canonical resource `/blob/{account}/{container}/{blob}`, the permissions and the times, never
   * the host, so the token stays valid at the address clients use.
   */
  private forClients(url: string, key: string): string {
    const { publicEndpoint } = this.options;
    if (!publicEndpoint) return url;
    const container = new URL(this.container.url);
    const blobEndpoint = `${container.origin}${container.pathname.replace(/\/[^/]*\/?$/, '')}`;
    if (!url.startsWith(`${blobEndpoint}/`)) {
      throw new StorageError(StorageErrorCode.INTERNAL, 'a signed Azure URL is not under its blob endpoint', { key });
    }
    return publicEndpoint + url.slice(blobEndpoint.length);
  }

  /** SAS tokens are signed with the account key: a connection string without one cannot sign. */
  private assertAccountKey(credential: unknown, key: string): void {
    if (!(credential instanceof StorageSharedKeyCredential)) {
      throw new StorageError(
        StorageErrorCode.INVALID_CONFIG,
        'signed URLs for Azure need a connection string with an AccountKey',
        { key },
      );
    }
  }

  /** The SDK's HTTP client keeps no sockets that need an explicit release. */
  async close(): Promise<void> {}
}

/** Block ids of one blob must all have the same length: the upload id and a 5-digit part number. */
function blockId(uploadId: string, partNumber: number): string {
  return Buffer.from(`${uploadId}-${String(partNumber).padStart(5, '0')}`).toString('base64');
}

/** The driver for a configured instance (its `init` runs next). */
export function createDriver(options: AzureBlobDriverOptions): AzureBlobDriver {
  return new AzureBlobDriver(options);
}

function azureContainerClient(options: AzureBlobDriverOptions, timeoutMs: number): ContainerClient {
  const pipeline: StoragePipelineOptions = {
    retryOptions: {
      maxTries: 3,
      retryDelayInMs: 200,
      maxRetryDelayInMs: 2000,
      tryTimeoutInMs: Math.max(timeoutMs, options.transferTimeoutMs ?? 600_000),
      ...options.retryOptions,
    },
  };
  return BlobServiceClient.fromConnectionString(options.connectionString, pipeline).getContainerClient(
    options.container,
  );
}

/** Maps `@azure/storage-blob` RestErrors (`statusCode`, `code`) and socket errors onto our codes. */
export function mapAzureError(err: unknown, key: string): Error {
  const e = err as { statusCode?: number; code?: string };
  return toStorageError(err, key, 'Azure Blob', { status: e?.statusCode, code: e?.code });
}
