import { addAbortSignal, type Readable } from 'node:stream';
import { StorageError, StorageErrorCode } from '../../errors/storage.error';

// How work on a backend is cut short: a deadline for metadata calls, the caller's signal for streams.

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
