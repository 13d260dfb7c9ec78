import type { NextFunction, Request, Response } from 'express';
import type { ResolvedCorsOptions } from '../options/cors.options';

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

/** What Express keeps of a route (Express 5's router `Layer`). */
interface RouteLayer {
  route?: { path: string };
}

/**
 * CORS for the module's routes (`cors` option): an allowed `Origin` gets
 * `Access-Control-Allow-Origin` (echoed, with `Vary: Origin`; `*` when any origin is allowed) and
 * the exposed headers; a preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered
 * here, 204 (403 for another origin). Credentials are never allowed: the API takes a bearer token,
 * not cookies. A refused origin gets no CORS header, so its browser blocks the response.
 *
 * Installed once the routes exist, as one Express middleware in front of the stack (a preflight
 * matches no route, and must be answered before a host's own middleware), acting only on paths
 * under the module's prefix (found from its `instances` route, so a global prefix is included).
 * Returns false when the application is not Express or the routes are not found.
 */
export function installStorageCors(app: unknown, prefix: string, cors: ResolvedCorsOptions): boolean {
  const stack = (app as { router?: { stack?: RouteLayer[] } } | undefined)?.router?.stack;
  if (!Array.isArray(stack) || typeof (app as { use?: unknown }).use !== 'function') return false;
  const tail = `/${prefix}/instances`;
  const base = stack
    .map((l) => l.route?.path)
    .find((p) => p?.endsWith(tail))
    ?.slice(0, -'instances'.length);
  if (!base) return false;
  const handler = (req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith(base) && req.path !== base.slice(0, -1)) return next();
    applyCors(cors, req, res, next);
  };
  (app as { use(fn: unknown): void }).use(handler);
  // `use` appended it; move it in front of every middleware the application installed.
  stack.unshift(stack.pop() as RouteLayer);
  return true;
}

function applyCors(cors: ResolvedCorsOptions, req: Request, res: Response, next: NextFunction): void {
  const origin = req.headers.origin;
  if (!origin) return next();
  const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
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
