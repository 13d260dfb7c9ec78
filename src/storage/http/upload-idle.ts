import type { Request, Response } from 'express';
import { StorageError } from '../errors/storage.error';

const IDLE = Symbol('storage.uploadIdle');

type Watched = Request & { [IDLE]?: AbortSignal };

/**
 * Times an upload request by its progress, not its total length: from the request's start until
 * its body has fully arrived (or the response is over), it checks every quarter of `idleMs` (at
 * most every second) whether the connection brought new bytes. When nothing arrived for `idleMs`
 * while nothing was waiting to be read on our side (bytes queued in the request because storage is
 * slow count as progress: then the client is not the one stalling), the request's idle signal
 * (`uploadIdleSignal`) aborts with a 408 `E_TIMEOUT`; the upload routes then stop the upload, release
 * what it held and answer.
 */
export function watchUploadIdle(req: Request, res: Response, idleMs: number): void {
  const controller = new AbortController();
  (req as Watched)[IDLE] = controller.signal;
  let seen = req.socket?.bytesRead ?? 0;
  let quietSince = Date.now();
  const timer = setInterval(
    () => {
      if (req.complete || req.destroyed) return stop();
      const read = req.socket?.bytesRead ?? seen;
      if (read !== seen || req.readableLength > 0) {
        seen = read;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= idleMs) {
        stop();
        controller.abort(StorageError.uploadIdle(idleMs));
      }
    },
    Math.max(50, Math.min(1000, idleMs / 4)),
  );
  timer.unref();
  const stop = () => clearInterval(timer);
  res.once('close', stop);
}

/** The idle signal `watchUploadIdle` armed on `req`, if any. */
export function uploadIdleSignal(req: Request): AbortSignal | undefined {
  return (req as Watched)[IDLE];
}

/** A promise that rejects with the signal's reason when it aborts (never settles otherwise). */
export function rejectOnAbort(signal: AbortSignal | undefined): Promise<never> {
  const rejected = new Promise<never>((_resolve, reject) => {
    if (!signal) return;
    const fire = () => reject(signal.reason);
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
  rejected.catch(() => undefined);
  return rejected;
}
