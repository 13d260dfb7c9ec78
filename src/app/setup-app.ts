import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { StorageExceptionFilter } from '../storage/errors/storage-exception.filter';

/**
 * The standalone service's own set-up, beyond what the storage module does for its routes (its
 * filter, body limit, `nosniff`, raw uploads kept raw): the same JSON errors and `nosniff` for
 * every other path (an unknown route is a 404 `E_NOT_FOUND`), and shutdown hooks. A host
 * application needs none of this.
 */
export function setupStorageApp(app: INestApplication): void {
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.useGlobalFilters(new StorageExceptionFilter());
  app.enableShutdownHooks();
}
