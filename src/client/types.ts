// The public API of `storage-svc/client`: browser code (fetch, XMLHttpRequest, Blob), no Node
// imports. Types only come from the library below (erased at build time).
import type { FileRecord } from '../storage/database/file-record';
import type { InstanceInfo } from '../storage/registry/instance-info';

export type { FileRecord, InstanceInfo };

/** How the bytes travel: tus to `{prefix}/tus`, one signed PUT/POST, or signed multipart parts. */
export type UploadStrategy = 'auto' | 'tus' | 'put' | 'multipart';

export interface StorageClientOptions {
  /** The service's base URL with its route prefix, e.g. `https://files.example.com/storage`. */
  baseUrl: string;
  /** The bearer token sent to the service (never to a bucket's signed URL). */
  token?: string;
  /** The instance element name used when a call names none; the service's default otherwise. */
  storage?: string;
  /** `fetch` to use (tests, or a wrapper adding headers); the global one by default. */
  fetch?: typeof fetch;
}

export interface UploadOptions {
  /** The target path (the record's `name`). */
  path: string;
  /** Instance element name; the client's `storage`, else the service's default. */
  storage?: string;
  /** Media type; the Blob's `type`, else `application/octet-stream`. */
  contentType?: string;
  /** Hex md5 of the bytes: stored content-addressed as `{md5}{suffix}` and checked by the service. */
  md5?: string;
  /** Seconds until the file expires. */
  expires?: number;
  /** Called as bytes are acknowledged: `sent` of `total`. */
  onProgress?(sent: number, total: number): void;
  /** Aborting it is `abort()`. */
  signal?: AbortSignal;
  /** `auto` (default) picks by size and the instance's capabilities. */
  strategy?: UploadStrategy;
  /** Multipart part size, bytes (within the instance's bounds); the service's suggestion otherwise. */
  partSize?: number;
  /** Parts in flight at once (multipart); 4 by default. */
  concurrency?: number;
  /** Attempts per request (part, PUT) before the upload fails; 5 by default, with back-off. */
  retries?: number;
}

/** An upload in progress. */
export interface UploadHandle {
  /** The record once the service recorded the upload; rejects with a `StorageClientError`. */
  promise: Promise<FileRecord>;
  /** The strategy `auto` chose, once known. */
  readonly strategy: Promise<Exclude<UploadStrategy, 'auto'>>;
  /** Stops sending after the requests in flight; `resume()` continues without resending acknowledged bytes (tus, multipart). */
  pause(): void;
  resume(): void;
  /** Stops and removes what was sent (tus termination, multipart abort); `promise` rejects with `E_ABORTED`. */
  abort(): Promise<void>;
}

export interface ListOptions {
  prefix?: string;
  limit?: number;
  cursor?: string;
  storage?: string;
}

export interface ListPage {
  items: FileRecord[];
  nextCursor: string | null;
}

/** URLs of one file for a page: download (with the token or signed), preview and thumbnail. */
export interface FileUrls {
  /** A signed download URL (no token needed), valid for `expiresIn` seconds. */
  download: string;
  /** `{prefix}/preview/{path}` (signed when the instance is private). */
  preview: string;
  /** `{prefix}/thumbnail/{path}?width=&height=` (signed when the instance is private). */
  thumbnail(width?: number, height?: number): string;
  expiresAt: number;
}

export interface StorageClient {
  instances(): Promise<InstanceInfo[]>;
  upload(file: Blob & { name?: string }, options: UploadOptions): UploadHandle;
  list(options?: ListOptions): Promise<ListPage>;
  meta(path: string, storage?: string): Promise<FileRecord>;
  remove(path: string, storage?: string): Promise<void>;
  urls(path: string, options?: { storage?: string; expiresIn?: number }): Promise<FileUrls>;
}

/** What every client call rejects with: the service's error `code` and HTTP status where there was one. */
export interface StorageClientErrorShape {
  code: string;
  status: number | null;
  message: string;
}
