import type { StorageDriver } from '../drivers/storage-driver';
import { StorageError, StorageErrorCode } from '../errors/storage.error';

/** The driver calls whose failures are counted: the contract's I/O, not `publicUrl` or `close`. */
const METERED = new Set([
  'put',
  'get',
  'open',
  'stat',
  'exists',
  'delete',
  'copy',
  'list',
  'signUpload',
  'signDownload',
  'listUnfinishedUploads',
  'abortUnfinishedUpload',
  'beginMultipart',
  'signPart',
  'completeMultipart',
  'abortMultipart',
]);

/**
 * Codes that say the backend failed: unreachable or hung, out of space, refusing our
 * credentials, misconfigured, or an error no driver mapping knew (`E_INTERNAL`). Not a missing
 * key, a failed condition, or what the client caused (an aborted or too large body).
 */
const BACKEND_FAULTS = new Set<string>([
  StorageErrorCode.BACKEND_UNAVAILABLE,
  StorageErrorCode.INSUFFICIENT_STORAGE,
  StorageErrorCode.ACCESS_DENIED,
  StorageErrorCode.INVALID_CONFIG,
  StorageErrorCode.INTERNAL,
]);

/** The code a backend failure is counted under, or undefined when `err` is none. */
export function backendFailureCode(err: unknown): string | undefined {
  if (!(err instanceof StorageError)) return StorageErrorCode.INTERNAL;
  return BACKEND_FAULTS.has(err.code) ? err.code : undefined;
}

export type BackendFailureListener = (operation: string, code: string) => void;

/**
 * `driver`, with each failed call of a `METERED` method reported to `onFailure` (operation, code)
 * when it is the backend's fault, then rethrown unchanged: a rejected promise, a throw, or an
 * error while a listing is iterated. Gap: an error in the middle of a `get` stream (after the
 * call resolved) is not seen here. Every other property reads through; methods are bound to the
 * driver itself, so that its own `this` is never the wrapper.
 */
export function meteredDriver(driver: StorageDriver, onFailure: BackendFailureListener): StorageDriver {
  const report = (operation: string, err: unknown): never => {
    const code = backendFailureCode(err);
    if (code) onFailure(operation, code);
    throw err;
  };
  // One wrapper per method, made at its first use: a download reads `open`, `get`, ... on every
  // request, and binding anew each time would allocate a function per access.
  const wrappers = new Map<string | symbol, { value: unknown; wrapper: unknown }>();
  const wrap = (property: string | symbol, value: (...args: unknown[]) => unknown): unknown => {
    const method = value.bind(driver);
    if (typeof property !== 'string' || !METERED.has(property)) return method;
    return (...args: unknown[]) => {
      let result: unknown;
      try {
        result = method(...args);
      } catch (err) {
        report(property, err);
      }
      if (isThenable(result)) return Promise.resolve(result).catch((err: unknown) => report(property, err));
      if (isAsyncIterable(result)) return meteredIteration(result, (err) => report(property, err));
      return result;
    };
  };
  return new Proxy(driver, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || property === 'constructor') return value;
      const cached = wrappers.get(property);
      if (cached?.value === value) return cached.wrapper;
      const wrapper = wrap(property, value as (...args: unknown[]) => unknown);
      wrappers.set(property, { value, wrapper });
      return wrapper;
    },
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

async function* meteredIteration<T>(iterable: AsyncIterable<T>, fail: (err: unknown) => never): AsyncIterable<T> {
  try {
    yield* iterable;
  } catch (err) {
    fail(err);
  }
}
