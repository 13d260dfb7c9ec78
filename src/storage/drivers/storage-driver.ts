import type { Readable } from 'node:stream';

/** An inclusive byte range, as HTTP `Range` speaks it: `start` <= `end` < size. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ObjectStat {
  key: string;
  size: number;
  lastModified: Date;
  contentType?: string;
  etag?: string;
}

export interface PutOptions {
  /** Exact size in bytes when known (lets cloud SDKs pick a single PUT). */
  size?: number;
  contentType?: string;
  /** Aborting it aborts the write; nothing is left under the key. */
  signal?: AbortSignal;
}

export interface GetOptions {
  range?: ByteRange;
  signal?: AbortSignal;
}

/**
 * An object opened for reading: its stat, taken from what was opened, and its bytes. A response
 * reads the stat (size, dates) before a byte, then streams; one open serves both.
 */
export interface OpenObject {
  stat: ObjectStat;
  /**
   * The bytes, whole or `range` (already checked against `stat.size`). The first call streams
   * what was opened and releases it when the stream ends or is destroyed; a later call, or one
   * after `close`, opens the key again.
   */
  stream(range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  /**
   * Optional, for small bodies (at most `SMALL_BODY_BYTES`): the bytes, whole or `range`, in one
   * read into a buffer of their size (what a stream's one chunk would hold), with what was opened
   * released; no stream to set up and tear down. Like `stream`, the first call reads what was opened.
   */
  read?(range?: ByteRange): Promise<Buffer>;
  /** Releases what was opened when no stream is taken (a 304, a HEAD, an error). Idempotent. */
  close(): void;
}

/** The largest body `OpenObject.read` is asked for: one read, one buffer of at most this size. */
export const SMALL_BODY_BYTES = 64 * 1024;

export interface SignUploadOptions {
  contentType: string;
  /** Seconds from now until the URL stops working. */
  expiresIn: number;
  /** Largest body accepted, where the backend can enforce it. */
  maxSize?: number;
}

export interface SignDownloadOptions {
  /** Seconds from now until the URL stops working. */
  expiresIn: number;
  /** The name a browser saves the download as (`Content-Disposition: attachment`), where the backend can set it. */
  fileName?: string;
}

/**
 * What a client needs to transfer directly: send `method` to `url` with exactly `headers`
 * (`GET` for a signed download). A `POST` is an HTML form upload: a `multipart/form-data` body
 * with every one of `fields`, in order, then the file as the last part, named `file`.
 * `expiresAt`: epoch ms.
 */
export interface SignedUrl {
  url: string;
  method: 'PUT' | 'POST' | 'GET';
  headers: Record<string, string>;
  /** For a `POST` form upload: the form fields (policy, signature, key, type) to send before the file. */
  fields?: Record<string, string>;
  expiresAt: number;
}

/** A multipart upload begun on the backend and neither completed nor aborted. */
export interface UnfinishedUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

/** One uploaded part of a direct multipart upload: its number (from 1) and the backend's ETag. */
export interface UploadedPart {
  partNumber: number;
  /** The ETag the backend answered the part's PUT with (unused by Azure, whose blocks are named by number). */
  etag: string;
}

/** A part URL's expiry (seconds from now) and the upload's content type (signed where the backend signs it). */
export interface SignPartOptions {
  expiresIn: number;
  contentType: string;
}

/** What a backend allows a direct multipart upload: part sizes in bytes and the part count. */
export interface MultipartLimits {
  minPartSize: number;
  maxPartSize: number;
  maxParts: number;
}

/** A signed URL for a direct client upload. */
export interface SignedUpload extends SignedUrl {
  method: 'PUT' | 'POST';
}

/**
 * One storage backend. Drivers do I/O and nothing else: they know no Nest, no records, no
 * expiry. Keys are already validated by the service (relative, `/`-separated, no `.`/`..`
 * segments, no control characters). Every method rejects with a `StorageError`:
 * `E_NOT_FOUND` for a missing key where one is required, `E_ACCESS_DENIED` when the backend
 * refuses the credentials, `E_BACKEND_UNAVAILABLE` when it cannot be reached in time.
 */
export interface StorageDriver {
  /** The storage type element, e.g. `storages.LocalType`. */
  readonly type: string;

  /**
   * Streams `body` to `key`, replacing what is there. Commit is atomic: a reader sees the old
   * object or the whole new one, never a part. If `body` errors (a failed hash check, a size
   * limit, a client that went away) or `signal` aborts, the write is abandoned and nothing is
   * left under `key` or in temporary space. Resolves with the stored object's stat.
   */
  put(key: string, body: Readable, options?: PutOptions): Promise<ObjectStat>;

  /**
   * Opens `key` for reading, the whole object or `range` of it (already checked against the
   * size by the caller). Rejects with `E_NOT_FOUND` before any byte when the key is absent.
   */
  get(key: string, options?: GetOptions): Promise<Readable>;

  /** The object's size and dates; rejects with `E_NOT_FOUND` when absent. */
  stat(key: string): Promise<ObjectStat>;

  /**
   * Optional: `key` opened once for its stat and its bytes (local disk: one file descriptor),
   * `E_NOT_FOUND` when absent. Drivers without it are served by `openObject` (stat, then `get`).
   * What is opened and never streamed is released by `close`, or by the driver after a while.
   */
  open?(key: string): Promise<OpenObject>;

  exists(key: string): Promise<boolean>;

  /** Removes `key`; a missing key is not an error. */
  delete(key: string): Promise<void>;

  /** Copies `from` to `to` within the backend; `E_NOT_FOUND` when `from` is absent. */
  copy(from: string, to: string): Promise<void>;

  /** Every object whose key starts with `prefix`, in no promised order. */
  list(prefix?: string): AsyncIterable<ObjectStat>;

  /**
   * A URL a client can upload `key` to without credentials, bound to the content type and the
   * expiry. Drivers without a native mechanism (local disk) reject with `E_INVALID_ARGUMENT`;
   * the service then signs a URL to its own upload route.
   */
  signUpload?(key: string, options: SignUploadOptions): Promise<SignedUpload>;

  /**
   * A URL a client can GET `key` from without credentials until `expiresIn` seconds from now,
   * reusable until then (the backend's presigned GET; for `publicEndpoint` when one is set).
   * `E_INVALID_ARGUMENT` for an expiry outside 1 s .. 7 days. Drivers without one (local disk)
   * leave it out: the service signs a URL to its own download route.
   */
  signDownload?(key: string, options: SignDownloadOptions): Promise<SignedUrl>;

  /**
   * Direct multipart uploads: the client sends parts straight to the backend through URLs the
   * service signs, in any order and in parallel, and the service then completes them. Present on
   * every cloud driver (S3, MinIO, OSS multipart uploads; Azure blocks and a block list).
   */
  readonly multipartLimits?: MultipartLimits;

  /** Begins a multipart upload of `key` with `contentType`; resolves with the backend's upload id. */
  beginMultipart?(key: string, contentType: string): Promise<string>;

  /**
   * A URL the client PUTs part `partNumber` (from 1) of `uploadId` to, with exactly `headers`,
   * valid for `expiresIn` seconds. The backend answers with the part's `ETag`.
   */
  signPart?(key: string, uploadId: string, partNumber: number, options: SignPartOptions): Promise<SignedUpload>;

  /**
   * Joins `parts` (ascending numbers) into the object `key` with `contentType`. A missing part or
   * a wrong ETag rejects with `E_INVALID_ARGUMENT`; an unknown upload with `E_NOT_FOUND`.
   */
  completeMultipart?(key: string, uploadId: string, parts: UploadedPart[], contentType: string): Promise<void>;

  /** Drops an unfinished multipart upload and its parts; an unknown one is not an error. */
  abortMultipart?(key: string, uploadId: string): Promise<void>;

  /** The object's public URL when the instance is configured with one (a CDN), else null. */
  publicUrl(key: string): string | null;

  /** Releases clients and sockets; called on shutdown. */
  /**
   * Multipart uploads begun and neither completed nor aborted: what a put leaves when its abort
   * could not reach the backend. Only on backends with multipart uploads that stay until aborted
   * (S3, MinIO, OSS; Azure drops uncommitted blocks by itself after seven days).
   */
  listUnfinishedUploads?(): AsyncIterable<UnfinishedUpload>;

  /** Aborts one upload from `listUnfinishedUploads`; its parts are removed. */
  abortUnfinishedUpload?(upload: UnfinishedUpload): Promise<void>;

  close?(): Promise<void>;
}

/** What a driver module's `createDriver` is given besides its parsed options. */
export interface DriverContext {
  /** The instance's element name, e.g. `storages.Default`. */
  name: string;
  /** Folder relative `root` options are resolved against (DATA_DIR's parent, the cwd). */
  baseDir: string;
}
