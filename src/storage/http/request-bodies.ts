import { Injectable, type NestMiddleware } from '@nestjs/common';
import { json, urlencoded } from 'body-parser';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { hasBody } from 'type-is';
import { noSniff } from './send-file';
import { RAW_UPLOAD_ROUTES } from './storage-controllers';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { watchUploadIdle } from './upload-idle';

/** The largest JSON or form body the module's routes read (`POST /sign`, `/sign/complete`). */
export const BODY_LIMIT = '256kb';

const HIDDEN = Symbol('storage.hiddenBodyHeaders');
const BODY_HEADERS = ['content-type', 'content-length', 'transfer-encoding'] as const;

type Shielded = Request & { [HIDDEN]?: Record<string, string | string[] | undefined> };

/**
 * Bound to the module's own routes (not global): `X-Content-Type-Options: nosniff` on every
 * answer, and the module's own small body limit for JSON and form bodies (a host's parsers, when
 * it has them, ran first and are left as they are). A raw upload's headers, hidden from the host's
 * parsers by `shieldRawUploads`, are put back here; raw bodies (`PUT`, tus `PATCH` and creation) are
 * left unread. Uploads (those raw bodies, multipart `POST`) are
 * timed by their progress from here on (`watchUploadIdle`).
 */
@Injectable()
export class StorageRequestMiddleware implements NestMiddleware {
  private readonly parsers: RequestHandler[] = [
    json({ limit: BODY_LIMIT }),
    urlencoded({ extended: false, limit: BODY_LIMIT }),
  ];

  constructor(@InjectStorageOptions() private readonly options: ResolvedStorageOptions) {}

  use(req: Request, res: Response, next: NextFunction): void {
    noSniff(res);
    const hidden = (req as Shielded)[HIDDEN];
    if (hidden) {
      for (const name of BODY_HEADERS) if (hidden[name] !== undefined) req.headers[name] = hidden[name] as string;
      delete (req as Shielded)[HIDDEN];
    }
    const upload = isRawBody(req) || (req.method === 'POST' && Boolean(req.is('multipart/form-data')));
    if (upload && !req.complete) watchUploadIdle(req, res, this.options.uploads.idleTimeoutMs);
    // No body to parse (a GET, a HEAD, a bodiless POST): the parsers would only find that out.
    if (isRawBody(req) || !hasBody(req)) return next();
    const [jsonParser, formParser] = this.parsers;
    jsonParser(req, res, (err?: unknown) => (err ? next(err) : formParser(req, res, next)));
  }
}

/** What Express keeps of a middleware or route (Express 5's router `Layer`). */
interface RouterLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

/**
 * Keeps an application's global body parsers (Nest installs JSON and form parsers unless the app
 * is created with `bodyParser: false`) off the module's raw uploads: a `PUT` of a `.json` file is
 * the file, not a JSON body. A middleware placed first in Express's stack hides the body headers
 * of requests to the module's raw-upload routes, so that every parser skips them;
 * `StorageRequestMiddleware` puts the headers back before the route runs. The routes are found
 * in the router itself, so a global prefix or a host's mount path is taken into account.
 *
 * Returns false when the app is not Express or the routes are not found (nothing is changed).
 */
export function shieldRawUploads(app: unknown, prefix: string): boolean {
  const router = (app as { router?: { stack?: RouterLayer[] } } | undefined)?.router;
  const stack = router?.stack;
  if (!Array.isArray(stack) || typeof (app as { use?: unknown }).use !== 'function') return false;
  const found = new Map<string, { method: string; start: string }>();
  for (const layer of stack) {
    const path = layer.route?.path;
    if (!path) continue;
    for (const route of RAW_UPLOAD_ROUTES) {
      const tail = `/${prefix}/${route.path}`;
      if (!path.endsWith(tail) || !layer.route?.methods[route.method]) continue;
      // A parameter segment (`*path`, `:id`) matches anything after the path before it.
      const start = path.replace(/[*:][A-Za-z]+$/, '');
      found.set(`${route.method} ${start}`, { method: route.method.toUpperCase(), start });
    }
  }
  if (found.size === 0) return false;
  const starts = [...found.values()];
  const shield = (req: Request, _res: Response, next: NextFunction) => {
    if (!(req as Shielded)[HIDDEN] && starts.some((s) => s.method === req.method && isUnder(req.path, s.start))) {
      const hidden: Record<string, string | string[] | undefined> = {};
      for (const name of BODY_HEADERS) {
        hidden[name] = req.headers[name];
        delete req.headers[name];
      }
      (req as Shielded)[HIDDEN] = hidden;
    }
    next();
  };
  (app as { use(fn: unknown): void }).use(shield);
  // `use` appended it; move it in front of every parser the application installed.
  stack.unshift(stack.pop() as RouterLayer);
  return true;
}

/** `path` is `start` (a route without parameters) or under it (`start` ends with `/`). */
function isUnder(path: string, start: string): boolean {
  return start.endsWith('/') ? path.startsWith(start) : path === start || path === `${start}/`;
}

/** A request whose body is file bytes: a raw `PUT`, a tus `PATCH`, a tus creation-with-upload. */
function isRawBody(req: Request): boolean {
  if (req.method === 'PUT' || req.method === 'PATCH') return true;
  return req.method === 'POST' && req.headers['content-type'] === 'application/offset+octet-stream';
}
