import { isStorageError, quoteInput, StorageError, StorageErrorCode } from '../../errors/storage.error';

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
/** A multipart completion whose parts do not fit: missing, too small, out of order, wrong ETag. */
const BAD_PARTS_CODES = new Set(['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall', 'InvalidBlockList']);
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
    return make(StorageErrorCode.NOT_FOUND, `file ${quoteInput(key)} not found`);
  }
  if ((code && DENIED_CODES.has(code)) || status === 401 || status === 403) {
    return make(StorageErrorCode.ACCESS_DENIED, `${backend} refused the configured credentials for ${quoteInput(key)}`);
  }
  if (code && BAD_PARTS_CODES.has(code)) {
    return make(
      StorageErrorCode.INVALID_ARGUMENT,
      `the uploaded parts do not make up ${quoteInput(key)} (missing, too small or a wrong ETag): send them again`,
    );
  }
  if (status === 416)
    return make(StorageErrorCode.RANGE_NOT_SATISFIABLE, `range not satisfiable for ${quoteInput(key)}`);
  if (status === 412) return make(StorageErrorCode.PRECONDITION_FAILED, `precondition failed for ${quoteInput(key)}`);
  if (isAbort(err)) return make(StorageErrorCode.ABORTED, 'the transfer was aborted');
  if (isUnreachable(err) || (status !== undefined && (status >= 500 || status === 408 || status === 429))) {
    return make(StorageErrorCode.BACKEND_UNAVAILABLE, `${backend} is unreachable or did not answer in time`);
  }
  return make(StorageErrorCode.INTERNAL, `${backend} failed on ${quoteInput(key)}`);
}

/** `exists` in terms of `stat`: true when it resolves, false on `E_NOT_FOUND`, other failures rethrown. */
export async function found(stat: Promise<unknown>): Promise<boolean> {
  try {
    await stat;
    return true;
  } catch (err) {
    if (isStorageError(err, StorageErrorCode.NOT_FOUND)) return false;
    throw err;
  }
}
