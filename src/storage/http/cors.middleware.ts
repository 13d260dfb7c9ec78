import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';

/** Request headers a page may send: the API's own, and tus's. */
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Range',
  'If-None-Match',
  'If-Match',
  'Tus-Resumable',
  'Upload-Length',
  'Upload-Offset',
  'Upload-Metadata',
  'Upload-Checksum',
  'Upload-Defer-Length',
  'Upload-Concat',
  'X-HTTP-Method-Override',
  'X-Requested-With',
].join(', ');

/** Response headers a page may read: downloads, ranges, and what tus and the client need. */
export const EXPOSED_HEADERS = [
  'Location',
  'ETag',
  'Content-Range',
  'Content-Length',
  'Content-Disposition',
  'Accept-Ranges',
  'Retry-After',
  'Tus-Resumable',
  'Tus-Version',
  'Tus-Extension',
  'Tus-Max-Size',
  'Tus-Checksum-Algorithm',
  'Upload-Offset',
  'Upload-Length',
  'Upload-Expires',
  'Upload-Metadata',
].join(', ');

const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * CORS for the module's routes (`cors` option): an allowed `Origin` gets
 * `Access-Control-Allow-Origin` (echoed, with `Vary: Origin`; `*` when any origin is allowed) and
 * the exposed headers; a preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered
 * 204 here. Credentials are never allowed: the API takes a bearer token, not cookies. A refused
 * origin gets no CORS header, so its browser blocks the response.
 */
@Injectable()
export class StorageCorsMiddleware implements NestMiddleware {
  constructor(@InjectStorageOptions() private readonly options: ResolvedStorageOptions) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const cors = this.options.cors;
    const origin = req.headers.origin;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!cors || !origin) return next();
    res.vary('Origin');
    const allowed = cors.origins === '*' || cors.origins.has(origin);
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', cors.origins === '*' ? '*' : origin);
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    if (!preflight) return next();
    if (allowed) {
      res.setHeader('Access-Control-Allow-Methods', METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', String(cors.maxAgeSeconds));
    }
    res.status(allowed ? 204 : 403).end();
  }
}
