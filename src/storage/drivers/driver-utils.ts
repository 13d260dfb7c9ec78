import { addAbortSignal, type Readable, Transform } from 'node:stream';
import { optionalBoolean, optionalHttpUrl, optionalInteger, type RawOptions } from '../config/option-readers';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import type { ByteRange, ObjectStat, StorageDriver } from './storage-driver';

/** Default for every cloud driver's `timeoutMs`. */
export const DEFAULT_TIMEOUT_MS = 10_000;
export const MIB = 1024 * 1024;
/** Presigned URLs live at most 7 days (SigV4's limit; applied to every backend alike). */
export const MAX_SIGN_SECONDS = 7 * 24 * 3600;

/**
 * Options every cloud driver takes besides its SDK's own client options. Driver options are type
 * aliases, not interfaces, so that a typed instance fits `StorageInstanceConfig`'s index signature.
 */
export type CloudDriverOptions = {
  /** Base URL objects are publicly served from (a CDN), if any. */
  publicUrl?: string;
  /**
   * The longest wait to connect and for the backend to answer, in ms (default 10 s); calls that
   * answer with metadata (stat, exists, delete, list pages, opening a get) are bounded by it as a
   * whole, retries included.
   */
  timeoutMs?: number;
  /** Create the bucket (container) at start-up when it is missing: tests and dev setups only. */
  createBucket?: boolean;
};

/** `publicUrl`, `timeoutMs` and `createBucket`, which every cloud type takes. */
export function parseCloudOptions(raw: RawOptions, field: string): CloudDriverOptions {
  return {
    publicUrl: optionalHttpUrl(raw, 'publicUrl', field),
    timeoutMs: optionalInteger(raw, 'timeoutMs', field, 100),
    createBucket: optionalBoolean(raw, 'createBucket', field),
  };
}

/**
 * What the cloud drivers share: the metadata-call deadline with error mapping, `exists` in terms
 * of `stat`, and the public URL. Subclasses do the I/O.
 */
export abstract class CloudDriverBase implements Pick<StorageDriver, 'exists' | 'publicUrl'> {
  protected readonly timeoutMs: number;

  constructor(private readonly common: CloudDriverOptions) {
    this.timeoutMs = common.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The backend's name in messages: `S3`, `OSS`, ... */
  protected abstract readonly backend: string;
  /** The driver's `mapXError`. */
  protected abstract mapError(err: unknown, key: string): Error;
  abstract stat(key: string): Promise<ObjectStat>;

  async exists(key: string): Promise<boolean> {
    try {
      await this.stat(key);
      return true;
    } catch (err) {
      if (err instanceof StorageError && err.code === StorageErrorCode.NOT_FOUND) return false;
      throw err;
    }
  }

  publicUrl(key: string): string | null {
    if (!this.common.publicUrl) return null;
    return `${this.common.publicUrl.replace(/\/+$/, '')}/${encodeKey(key)}`;
  }

  /** Runs a metadata call within `timeoutMs` and maps its failure onto our codes. */
  protected async call<T>(key: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(this.timeoutMs, this.backend, op);
    } catch (err) {
      throw this.mapError(err, key);
    }
  }
}

/** `key` with each `/`-separated segment percent-encoded and the slashes kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * Runs `op` with a signal that aborts after `ms`. When the time is up the call rejects with
 * `E_BACKEND_UNAVAILABLE` at once, whatever the SDK does with the signal; retries inside the SDK
 * count against the same budget. For calls that answer with metadata, never for transfers.
 */
export async function withDeadline<T>(
  ms: number,
  backend: string,
  op: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const err = new StorageError(StorageErrorCode.BACKEND_UNAVAILABLE, `${backend} did not answer within ${ms} ms`, {
        timeoutMs: ms,
      });
      controller.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([op(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Makes `signal` destroy `stream` (with an `AbortError`) when it aborts. */
export function bindSignal<T extends Readable>(stream: T, signal?: AbortSignal): T {
  if (signal) addAbortSignal(signal, stream);
  return stream;
}

/**
 * The body of a ranged GET, narrowed to `range` when the server answered with more: HTTP lets a
 * server ignore `Range` (a 200 with the whole object) and some S3-compatible servers widen it.
 * `contentRange` is the response's `Content-Range` header, absent for a whole-object answer.
 */
export function narrowToRange(body: Readable, range: ByteRange, contentRange: string | undefined): Readable {
  const served = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  const servedStart = served ? Number(served[1]) : 0;
  if (served && servedStart === range.start && Number(served[2]) === range.end) return body;
  if (servedStart > range.start) {
    body.destroy();
    throw new StorageError(StorageErrorCode.INTERNAL, 'the backend answered a different byte range', {
      range,
      contentRange,
    });
  }
  let position = servedStart;
  const window = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const from = Math.max(0, range.start - position);
      const to = Math.min(chunk.length, range.end + 1 - position);
      position += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      if (position > range.end) {
        this.push(null);
        body.unpipe(this);
        body.destroy();
      }
      done();
    },
  });
  body.on('error', (err) => window.destroy(err));
  return body.pipe(window);
}

/** Checks `expiresIn` (seconds) against the backend's limit. */
export function checkExpiresIn(expiresIn: number, maxSeconds: number): void {
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > maxSeconds) {
    throw StorageError.invalidArgument(`expiresIn must be a whole number of seconds from 1 to ${maxSeconds}`);
  }
}

/** Reads `body` as consecutive buffers of exactly `size` bytes; the last may be shorter (or empty). */
export async function* readChunks(body: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  let yielded = false;
  for await (const data of body) {
    let chunk = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
    while (length + chunk.length >= size) {
      const take = size - length;
      parts.push(chunk.subarray(0, take));
      chunk = chunk.subarray(take);
      yield Buffer.concat(parts, size);
      yielded = true;
      parts = [];
      length = 0;
    }
    if (chunk.length > 0) {
      parts.push(chunk);
      length += chunk.length;
    }
  }
  if (length > 0 || !yielded) yield Buffer.concat(parts, length);
}

/** The steps of an S3-style multipart upload, in one backend's SDK. */
export interface MultipartTarget {
  /** Stores a body that fits in one part with a single request. */
  putWhole(data: Buffer): Promise<void>;
  begin(): Promise<string>;
  /** Uploads part `partNumber` (from 1) and resolves with its ETag. */
  uploadPart(uploadId: string, partNumber: number, data: Buffer): Promise<string>;
  complete(uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void>;
  abort(uploadId: string): Promise<void>;
}

/**
 * Streams `body` to `target` holding one part in memory at a time: a single request when the body
 * fits in one part, else a multipart upload that is aborted (nothing committed) when the body or
 * any request fails. For SDKs whose own stream upload cannot do that.
 */
export async function multipartUpload(body: Readable, partSize: number, target: MultipartTarget): Promise<void> {
  const chunks = readChunks(body, partSize);
  const first = (await chunks.next()).value ?? Buffer.alloc(0);
  const second = first.length === partSize ? await chunks.next() : undefined;
  if (!second || second.done) {
    await target.putWhole(first);
    return;
  }
  const uploadId = await target.begin();
  try {
    const parts: { partNumber: number; etag: string }[] = [];
    const send = async (data: Buffer) => {
      const partNumber = parts.length + 1;
      parts.push({ partNumber, etag: await target.uploadPart(uploadId, partNumber, data) });
    };
    await send(first);
    await send(second.value);
    for await (const data of chunks) await send(data);
    await target.complete(uploadId, parts);
  } catch (err) {
    await target.abort(uploadId).catch(() => undefined);
    throw err;
  }
}

/** Error codes from SDKs and Node sockets that mean the backend cannot be reached in time. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);
const UNREACHABLE_IN_MESSAGE = new RegExp(`\\b(${[...UNREACHABLE_CODES].join('|')})\\b`);
const UNREACHABLE_NAMES = new Set([
  'TimeoutError',
  'ConnectionTimeoutError',
  'ResponseTimeoutError',
  'SocketAssignTimeoutError',
  'RequestError',
]);
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound', 'BlobNotFound', 'NoSuchUpload', 'CannotVerifyCopySource']);
const MISSING_BUCKET_CODES = new Set(['NoSuchBucket', 'ContainerNotFound']);
const DENIED_CODES = new Set([
  'AccessDenied',
  'Forbidden',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'InvalidSecurity',
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'RequestTimeTooSkewed',
  'ExpiredToken',
]);

/** What a driver's `mapXError` reads off its SDK's error before `toStorageError` classifies it. */
export interface BackendFailure {
  status?: number;
  /** The backend's error code (`NoSuchKey`, `BlobNotFound`, ...) or a socket error code. */
  code?: string;
}

/** True when `err` (or a cause or aggregated error inside it) is a socket or timeout failure. */
export function isUnreachable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 3) return false;
  const e = err as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown; message?: unknown };
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  // The AWS SDK wraps errors that are not `instanceof Error` in its realm (as under Jest's
  // sandbox) into one that keeps only the message: "... connect ECONNREFUSED 127.0.0.1:9".
  if (typeof e.message === 'string' && UNREACHABLE_IN_MESSAGE.test(e.message)) return true;
  if (typeof e.name === 'string' && UNREACHABLE_NAMES.has(e.name)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isUnreachable(inner, depth + 1))) return true;
  return isUnreachable(e.cause, depth + 1);
}

function isAbort(err: unknown): boolean {
  const name = (err as { name?: unknown })?.name;
  return name === 'AbortError' || (err as { code?: unknown })?.code === 'ABORT_ERR';
}

/**
 * Classifies a backend failure onto our codes. The message names the backend and the key only:
 * SDK messages can carry URLs, signatures or account names, so they stay in `cause`.
 */
export function toStorageError(err: unknown, key: string, backend: string, failure: BackendFailure): StorageError {
  if (err instanceof StorageError) return err;
  const { status, code } = failure;
  const context = { key, backend, status, backendCode: code };
  const make = (errorCode: StorageErrorCode, message: string) =>
    new StorageError(errorCode, message, context, { cause: err });
  if (code && MISSING_BUCKET_CODES.has(code)) {
    return make(StorageErrorCode.INVALID_CONFIG, `the ${backend} bucket or container does not exist`);
  }
  if ((code && NOT_FOUND_CODES.has(code)) || status === 404) {
    return make(StorageErrorCode.NOT_FOUND, `file '${key}' not found`);
  }
  if ((code && DENIED_CODES.has(code)) || status === 401 || status === 403) {
    return make(StorageErrorCode.ACCESS_DENIED, `${backend} refused the configured credentials for '${key}'`);
  }
  if (status === 416) return make(StorageErrorCode.RANGE_NOT_SATISFIABLE, `range not satisfiable for '${key}'`);
  if (status === 412) return make(StorageErrorCode.PRECONDITION_FAILED, `precondition failed for '${key}'`);
  if (isAbort(err)) return make(StorageErrorCode.ABORTED, 'the transfer was aborted');
  if (isUnreachable(err) || (status !== undefined && (status >= 500 || status === 408 || status === 429))) {
    return make(StorageErrorCode.BACKEND_UNAVAILABLE, `${backend} is unreachable or did not answer in time`);
  }
  return make(StorageErrorCode.INTERNAL, `${backend} failed on '${key}'`);
}
