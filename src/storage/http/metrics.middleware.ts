import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { PASSES_WRITE_CALLBACK, passesWriteCallback } from '../drivers/local/local-files';
import { StorageMetrics } from '../metrics/storage-metrics';

/**
 * Bound to the module's own routes (never global): counts each request when its answer ends (or
 * the client goes away) by method, route pattern (never the raw path: keys would make the label
 * set unbounded) and status, its duration, the bytes it received and sent (bodies, also by the
 * storage instance the handler named with `noteStorageInstance`), and its error code (and a
 * database failure's kind) when the exception filter answered it.
 */
@Injectable()
export class StorageMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: StorageMetrics) {}

  use(req: Request, res: Response, next: NextFunction): void {
    this.track(req, res, undefined, next);
  }

  /**
   * What `use` does; `route`, when given, is the route pattern counted (for a request answered
   * ahead of the router, which has matched no route for it yet).
   */
  track(req: Request, res: Response, route: string | undefined, next: () => void): void {
    const started = process.hrtime.bigint();
    const readBefore = req.socket.bytesRead;
    let sent = 0;
    // Whether the write wrapped here calls back when the socket has a chunk: so does the wrapper.
    const passesCallback = passesWriteCallback(res.write);
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    const count = (chunk: unknown): void => {
      if (typeof chunk === 'string') sent += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) sent += chunk.byteLength;
    };
    res.write = Object.assign(
      (...args: unknown[]) => {
        count(args[0]);
        return write(...args);
      },
      { [PASSES_WRITE_CALLBACK]: passesCallback },
    ) as Response['write'];
    res.end = ((...args: unknown[]) => {
      if (typeof args[0] !== 'function') count(args[0]);
      return end(...args);
    }) as Response['end'];
    let done = false;
    const record = (): void => {
      if (done) return;
      done = true;
      const matched = route ?? (req.route as { path?: string } | undefined)?.path ?? '';
      const pattern = `${req.baseUrl ?? ''}${matched}` || 'unmatched';
      const labels = { method: req.method, route: pattern, status: String(res.statusCode) };
      this.metrics.requests.inc(labels);
      this.metrics.latency.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      // The declared body length when there is one (the socket may have read a small body with
      // the headers, before this middleware ran); else what the socket read meanwhile (chunked).
      const declared = Number(req.headers['content-length']);
      const bodyIn = Number.isFinite(declared) ? declared : req.socket.bytesRead - readBefore;
      const instance = (res.locals.storageInstance as string | undefined) ?? 'none';
      this.metrics.bytesIn.inc({ route: pattern, instance }, Math.max(0, bodyIn));
      this.metrics.bytesOut.inc({ route: pattern, instance }, sent);
      const code = res.locals.storageErrorCode as string | undefined;
      if (code) this.metrics.errors.inc({ code });
      const databaseFailure = res.locals.storageDatabaseFailure as string | undefined;
      if (databaseFailure) this.metrics.databaseFailures.inc({ kind: databaseFailure });
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  }
}

/** Names the storage instance a request reads from or writes to, for the byte counters' `instance` label. */
export function noteStorageInstance(res: Response, instance: string | null | undefined): void {
  if (instance) res.locals.storageInstance = instance;
}
