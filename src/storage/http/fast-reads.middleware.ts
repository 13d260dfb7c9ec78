import {
  ForbiddenException,
  Inject,
  Injectable,
  type CanActivate,
  type ExecutionContext,
  type NestMiddleware,
  type Type,
} from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { writeStorageError } from '../errors/storage-exception.filter';
import { hideInstanceNames } from '../errors/storage.error';
import { StorageService } from '../storage.service';
import { FilesController } from './files.controller';
import { PreviewController } from './preview.controller';
import { PublicRateLimitGuard } from './public-rate-limit.guard';
import { sendStorageResponse } from './send-file';

/** `fastReads` (a module extra) and the registration's routed controller classes. */
export interface FastReadsSettings {
  mode: boolean | 'auto';
  controllers: Type[];
}
export const FAST_READS = Symbol('FAST_READS');

/** The routes the middleware answers (GET and HEAD of each), under the module's prefix. */
export const FAST_READ_ROUTES = ['files/*path', 'preview/*path'] as const;

/** One route the middleware answers: the controller class and handler the guards are asked about. */
interface FastRoute {
  controller: Type;
  handler: (...args: never[]) => unknown;
  guards: CanActivate[];
  send(req: Request, res: Response, path: string, storage: unknown): Promise<void>;
}

/**
 * Downloads (`GET`/`HEAD {prefix}/files/{path}`) and previews (`{prefix}/preview/{path}`), the
 * hot path of a storage service, answered from the module's middleware, ahead of the ~60 route
 * layers Express would walk and Nest's per-route pipeline (guard and interceptor chains, rxjs,
 * parameter decorators). The answer is the route's own, made by the same code: the same guards
 * (the module's `StorageAuthGuard` with the configured `authGuard`, and the public rate limit on
 * previews), asked about the same controller and handler, then `StorageService` and
 * `sendStorageResponse`, errors written as the module's filter writes them. The module's metrics
 * and request middleware ran before it.
 *
 * Enabled by `fastReads` (a module extra). By default (`'auto'`) only when the application has no
 * global guard or interceptor (`APP_GUARD`, `useGlobalGuards`, ...): those see every route, and a
 * request answered here would not reach them. Otherwise, and for any other route, it passes the
 * request on unchanged.
 */
@Injectable()
export class StorageFastReads implements NestMiddleware {
  private readonly routes: Record<'files' | 'preview', FastRoute>;
  private active: boolean | undefined;

  constructor(
    private readonly service: StorageService,
    auth: StorageAuthGuard,
    rateLimit: PublicRateLimitGuard,
    @Inject(FAST_READS) settings: FastReadsSettings,
    private readonly app: ApplicationConfig,
  ) {
    const routed = (base: Type): Type => settings.controllers.find((c) => c.prototype instanceof base) ?? base;
    this.routes = {
      files: {
        controller: routed(FilesController),
        handler: FilesController.prototype.download,
        guards: [auth],
        send: (req, res, path, storage) =>
          sendStorageResponse(req, res, this.service.downloadResponse(path, storage as string | undefined)),
      },
      preview: {
        controller: routed(PreviewController),
        handler: PreviewController.prototype.preview,
        guards: [auth, rateLimit],
        send: (req, res, path, storage) =>
          sendStorageResponse(req, res, hideInstanceNames(this.service.preview(path, storage as string | undefined))),
      },
    };
    this.active = settings.mode === 'auto' ? undefined : settings.mode;
  }

  use(req: Request, res: Response, next: NextFunction): void {
    const route = this.routeOf(req);
    if (!route || !this.isActive()) return next();
    void this.answer(route, req, res, next);
  }

  private async answer(route: FastRoute, req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      const context = httpContext(route, req, res, next);
      for (const guard of route.guards) {
        // What Nest does with a guard that answers false.
        if (!(await guard.canActivate(context))) throw new ForbiddenException();
      }
      const value = (req.params as Record<string, unknown>).path;
      const path = Array.isArray(value) ? value.join('/') : String(value ?? '');
      await route.send(req, res, path, (req.query as Record<string, unknown>).storage);
    } catch (err) {
      writeStorageError(res, err);
    }
  }

  /** Which route this is, from the route pattern Express matched for this middleware. */
  private routeOf(req: Request): FastRoute | undefined {
    if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
    const pattern = (req.route as { path?: string } | undefined)?.path ?? '';
    if (pattern.endsWith('/files/*path')) return this.routes.files;
    if (pattern.endsWith('/preview/*path')) return this.routes.preview;
    return undefined;
  }

  /** `'auto'`: decided at the first request, once every global enhancer is registered. */
  private isActive(): boolean {
    this.active ??=
      this.app.getGlobalGuards().length === 0 &&
      this.app.getGlobalInterceptors().length === 0 &&
      this.app.getGlobalRequestGuards().length === 0 &&
      this.app.getGlobalRequestInterceptors().length === 0;
    return this.active;
  }
}

/** The execution context Nest would give the route's guards. */
function httpContext(route: FastRoute, req: Request, res: Response, next: NextFunction): ExecutionContext {
  const args = [req, res, next];
  const http = { getRequest: () => req, getResponse: () => res, getNext: () => next } as never;
  const unsupported = (): never => {
    throw new Error('not an RPC or WebSocket context');
  };
  return {
    getClass: () => route.controller,
    getHandler: () => route.handler,
    getArgs: () => args as never,
    getArgByIndex: (index: number) => args[index] as never,
    getType: () => 'http' as never,
    switchToHttp: () => http,
    switchToRpc: unsupported,
    switchToWs: unsupported,
  };
}
