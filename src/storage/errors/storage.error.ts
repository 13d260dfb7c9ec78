/**
 * Stable error codes. Every failure the service reports carries one of these; the HTTP layer maps
 * them to statuses in one place (`STATUS_BY_CODE`), and drivers never throw HTTP exceptions.
 */
export const StorageErrorCode = {
  NOT_FOUND: 'E_NOT_FOUND',
  INVALID_PATH: 'E_INVALID_PATH',
  INVALID_ARGUMENT: 'E_INVALID_ARGUMENT',
  MD5_MISMATCH: 'E_MD5_MISMATCH',
  UNKNOWN_STORAGE: 'E_UNKNOWN_STORAGE',
  TOO_LARGE: 'E_TOO_LARGE',
  UNAUTHORIZED: 'E_UNAUTHORIZED',
  ACCESS_DENIED: 'E_ACCESS_DENIED',
  FORBIDDEN: 'E_FORBIDDEN',
  SIGNATURE_INVALID: 'E_SIGNATURE_INVALID',
  UNSUPPORTED_MEDIA_TYPE: 'E_UNSUPPORTED_MEDIA_TYPE',
  RANGE_NOT_SATISFIABLE: 'E_RANGE_NOT_SATISFIABLE',
  PRECONDITION_FAILED: 'E_PRECONDITION_FAILED',
  CONFLICT: 'E_CONFLICT',
  ABORTED: 'E_ABORTED',
  TIMEOUT: 'E_TIMEOUT',
  TOO_MANY_REQUESTS: 'E_TOO_MANY_REQUESTS',
  BACKEND_UNAVAILABLE: 'E_BACKEND_UNAVAILABLE',
  INSUFFICIENT_STORAGE: 'E_INSUFFICIENT_STORAGE',
  DATABASE_UNAVAILABLE: 'E_DATABASE_UNAVAILABLE',
  INVALID_CONFIG: 'E_INVALID_CONFIG',
  NOT_IMPLEMENTED: 'E_NOT_IMPLEMENTED',
  INTERNAL: 'E_INTERNAL',
} as const;

export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export const STATUS_BY_CODE: Record<StorageErrorCode, number> = {
  E_NOT_FOUND: 404,
  E_INVALID_PATH: 400,
  E_INVALID_ARGUMENT: 400,
  E_MD5_MISMATCH: 400,
  E_UNKNOWN_STORAGE: 400,
  E_TOO_LARGE: 413,
  E_UNAUTHORIZED: 401,
  E_ACCESS_DENIED: 403,
  E_FORBIDDEN: 403,
  E_SIGNATURE_INVALID: 403,
  E_UNSUPPORTED_MEDIA_TYPE: 415,
  E_RANGE_NOT_SATISFIABLE: 416,
  E_PRECONDITION_FAILED: 412,
  E_CONFLICT: 409,
  E_ABORTED: 400,
  E_TIMEOUT: 408,
  E_TOO_MANY_REQUESTS: 429,
  E_BACKEND_UNAVAILABLE: 503,
  E_INSUFFICIENT_STORAGE: 507,
  E_DATABASE_UNAVAILABLE: 503,
  E_INVALID_CONFIG: 500,
  E_NOT_IMPLEMENTED: 501,
  E_INTERNAL: 500,
};

/**
 * The one error type of the project. `message` is safe to show to a client: it never holds a
 * secret, a stack or a local filesystem path (put those in `context` or `cause`, which stay in
 * the logs).
 */
export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }

  get status(): number {
    return STATUS_BY_CODE[this.code];
  }

  /** `storage` is a configured instance's name (never raw client input), so it is not quoted. */
  static notFound(key: string, storage?: string): StorageError {
    return new StorageError(
      StorageErrorCode.NOT_FOUND,
      `file ${quoteInput(key)} not found${storage ? ` in ${storage}` : ''}`,
      {
        key,
        storage,
      },
    );
  }

  static invalidPath(reason: string): StorageError {
    return new StorageError(StorageErrorCode.INVALID_PATH, `invalid path: ${reason}`);
  }

  static invalidArgument(message: string): StorageError {
    return new StorageError(StorageErrorCode.INVALID_ARGUMENT, message);
  }

  /**
   * `E_UNKNOWN_STORAGE` for `name`; with `configured`, the message lists the known instances
   * (for authenticated callers; public routes answer without them, see `hideInstanceNames`).
   */
  static unknownStorage(name: string, configured?: readonly string[]): StorageError {
    const known = configured ? `; configured: ${configured.join(', ')}` : '';
    return new StorageError(StorageErrorCode.UNKNOWN_STORAGE, `unknown storage ${quoteInput(name)}${known}`, {
      storage: name,
    });
  }

  /** The caller's token does not allow this (a scope, an instance or a key prefix): 403. */
  static forbidden(reason: string): StorageError {
    return new StorageError(StorageErrorCode.FORBIDDEN, `${reason}; use a token that allows it`);
  }

  /** An upload that sent nothing for `idleMs`: ended, and everything it held released. */
  static uploadIdle(idleMs: number): StorageError {
    return new StorageError(
      StorageErrorCode.TIMEOUT,
      `the upload sent nothing for ${Math.round(idleMs / 1000)} s and was ended; send it again`,
      { idleMs },
    );
  }

  /** Too much at once; HTTP answers 429 with `Retry-After: retryAfterSeconds`. */
  static tooManyRequests(message: string, retryAfterSeconds: number): StorageError {
    return new StorageError(StorageErrorCode.TOO_MANY_REQUESTS, `${message}; retry in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }

  static tooLarge(limit: number): StorageError {
    return new StorageError(StorageErrorCode.TOO_LARGE, `file is larger than the limit of ${limit} bytes`, {
      limit,
    });
  }
}

/** The most characters of client input an error message quotes. */
export const QUOTED_INPUT_MAX = 100;

/**
 * Client input (a key, a storage name, a content type, a query value) as an error message quotes
 * it: in single quotes, cut to `QUOTED_INPUT_MAX` characters with an ellipsis, so that an answer
 * never echoes an unbounded value back.
 */
export function quoteInput(value: unknown): string {
  const chars = [...String(value)];
  const text = chars.length > QUOTED_INPUT_MAX ? `${chars.slice(0, QUOTED_INPUT_MAX).join('')}…` : chars.join('');
  return `'${text}'`;
}

/**
 * `work`, with an `E_UNKNOWN_STORAGE` rejection replaced by one that does not list the configured
 * instances: what public routes (no token) answer, so that an anonymous caller cannot enumerate them.
 */
export async function hideInstanceNames<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isStorageError(err, StorageErrorCode.UNKNOWN_STORAGE)) {
      throw StorageError.unknownStorage(String(err.context.storage ?? ''));
    }
    throw err;
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}
