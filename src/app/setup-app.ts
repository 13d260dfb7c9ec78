import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Server } from 'node:http';
import { StorageExceptionFilter } from '../storage/errors/storage-exception.filter';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from './app.config';
import { PARAMS_PROVIDER_TOKEN, PinoLogger, type Params } from 'nestjs-pino';
import { requestLogging } from './logging';
import { setupOpenApi } from './openapi';

/**
 * The standalone service's own set-up, beyond what the storage module does for its routes (its
 * filter, body limit, `nosniff`, raw uploads kept raw): the request log (`requestLogging`), the
 * same JSON errors and `nosniff` for every other path (an unknown route is a 404 `E_NOT_FOUND`),
 * shutdown hooks, and no total time limit on a request: Node's `server.requestTimeout` (300 s by default) would cut every upload
 * longer than that, however fast it progresses. Uploads are timed by their progress instead (the
 * storage module's `uploadIdleTimeoutSeconds`); headers must still arrive within
 * `server.headersTimeout` (60 s). A host application needs only the `requestTimeout` part, and
 * only if it accepts uploads that take longer than its request timeout.
 */
export function setupStorageApp(app: INestApplication): void {
  (app.getHttpServer() as Server).requestTimeout = 0;
  app.use(requestLogging(new PinoLogger(app.get<Params>(PARAMS_PROVIDER_TOKEN, { strict: false }))));
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.useGlobalFilters(new StorageExceptionFilter());
  app.enableShutdownHooks();
  setupOpenApi(app, app.get(ConfigService).getOrThrow<AppConfig>('app').routePrefix);
}
