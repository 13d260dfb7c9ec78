import type { INestApplication } from '@nestjs/common';
import { json, urlencoded, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { StorageExceptionFilter } from '../storage/errors/storage-exception.filter';

/**
 * What the HTTP app needs beyond the modules: the error filter, and body parsers that skip raw
 * uploads (a `PUT` body is the file and must reach the route as a stream). Create the app with
 * `bodyParser: false` and call this.
 */
export function setupStorageApp(app: INestApplication, routePrefix = 'storage'): void {
  const escaped = routePrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const uploadPath = new RegExp(`^/${escaped}/(files|upload)/`);
  const parsers: RequestHandler[] = [json({ limit: '256kb' }), urlencoded({ extended: false, limit: '256kb' })];
  app.use((_req: Request, res: Response, next: NextFunction) => {
    // On every response, errors and 401s included: no browser second-guesses a declared type.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'PUT' && uploadPath.test(req.path)) return next();
    const [jsonParser, formParser] = parsers;
    jsonParser(req, res, (err?: unknown) => (err ? next(err) : formParser(req, res, next)));
  });
  app.useGlobalFilters(new StorageExceptionFilter());
  app.enableShutdownHooks();
}
