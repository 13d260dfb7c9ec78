import {
  ForbiddenException,
  Inject,
  Injectable,
  type CanActivate,
  type ExecutionContext,
  type Type,
} from '@nestjs/common';
import { ApplicationConfig, ModuleRef } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { writeStorageError } from '../errors/storage-exception.filter';
import { StorageMetrics } from '../metrics/storage-metrics';
import { FilesController } from './files.controller';
import { StorageMetricsMiddleware } from './metrics.middleware';
import { PreviewController } from './preview.controller';
import { PublicRateLimitGuard } from './public-rate-limit.guard';
import { noSniff } from './send-file';
import { pathSegments, placeLayer, routeIndex, routerStack } from './fast-layer';

/** `fastReads` (a module extra) and the registration's routed controller classes. */
export interface FastReadsSettings {
  mode: boolean | 'auto' | 'ahead';
  controllers: Type[];
}
export const FAST_READS = Symbol('FAST_READS');

/** One route answered here: the controller class and handler its guards are asked about, and its answer. */
interface FastRoute {
  /** The route's path up to its `*path` (global prefix included), as Express matched it: `/storage/files/`. */
  start: string;
  /** The route's whole pattern, `/storage/files/*path`: its metrics label. */
  pattern: string;
  controller: Type;
  handler: (...args: never[]) => unknown;
  guards: CanActivate[];
  send(req: Request, res: Response, path: string, storage: unknown): Promise<void>;
}

/**
 * Downloads (`GET`/`HEAD {prefix}/files/{path}`) and previews (`{prefix}/preview/{path}`), the
 * hot path of a storage service, answered by one Express layer placed right before the module's
 * routes: after every middleware (the host's, the logger, the module's metrics and body
 * handling), ahead of Nest's per-route pipeline (guard and interceptor chains, rxjs, parameter
 * decorators, about a millisecond of CPU per request). The answer is the route's own, made by
 * the same code: the routes' own guards (`StorageAuthGuard` with the configured `authGuard`, and
 * the public rate limit on previews) asked about the routes' own controller and handler, then
 * that handler itself on the route's controller instance; a guard's refusal is written as the
 * module's filter writes it.
 *
 * `fastReads` (a module extra): by default (`'auto'`) only while the application has no global
 * guard or interceptor (`APP_GUARD`, `useGlobalGuards`, ...), which a request answered here
 * would not reach. Anything else (another method or route, a path Express would refuse to
 * decode) goes on to the routes unchanged.
 */
@Injectable()
export class StorageFastReads {
  private readonly routes: FastRoute[] = [];
  private active: boolean | undefined;
  /** `'ahead'`: the module's own route middleware (metrics, `nosniff`), run here. */
  private readonly moduleMiddleware: StorageMetricsMiddleware | null;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly auth: StorageAuthGuard,
    private readonly rateLimit: PublicRateLimitGuard,
    @Inject(FAST_READS) private readonly settings: FastReadsSettings,
    private readonly app: ApplicationConfig,
    metrics: StorageMetrics,
  ) {
    this.active = settings.mode === 'auto' ? undefined : settings.mode !== false;
    this.moduleMiddleware = settings.mode === 'ahead' ? new StorageMetricsMiddleware(metrics) : null;
  }

  /**
   * Places the layer in `app` (Express) right before the first of the module's read routes, once
   * they exist. False when it cannot (not Express, routes not found, or `fastReads: false`).
   */
  install(app: unknown, prefix: string): boolean {
    if (this.settings.mode === false) return false;
    const stack = routerStack(app);
    if (!stack) return false;
    const routed = (base: Type): Type => this.settings.controllers.find((c) => c.prototype instanceof base) ?? base;
    const found: number[] = [];
    const routeOf = (route: string) => {
      let path: string | undefined;
      let pattern = '';
      for (const method of ['get', 'head']) {
        const index = routeIndex(stack, prefix, route, method);
        if (index < 0) return undefined;
        found.push(index);
        pattern = stack[index].route!.path;
        path = pattern.replace(/\*path$/, '');
      }
      return path === undefined ? undefined : { start: path, pattern };
    };
    const files = routeOf('files/*path');
    const preview = routeOf('preview/*path');
    if (files === undefined || preview === undefined) return false;
    // The routes' own handlers answer, on the routes' own controller instances.
    const filesRoute = routed(FilesController);
    const previewRoute = routed(PreviewController);
    const filesHandler = this.moduleRef.get<FilesController>(filesRoute, { strict: false });
    const previewHandler = this.moduleRef.get<PreviewController>(previewRoute, { strict: false });
    this.routes.push(
      {
        ...files,
        controller: filesRoute,
        handler: FilesController.prototype.download,
        guards: [this.auth],
        send: (req, res, path, storage) => filesHandler.download(req, res, path, storage as string | undefined),
      },
      {
        ...preview,
        controller: previewRoute,
        handler: PreviewController.prototype.preview,
        guards: [this.auth, this.rateLimit],
        send: (req, res, path, storage) => previewHandler.preview(req, res, path, storage as string | undefined),
      },
    );
    // Named: Express keeps the name on the layer (`storageFastReads`), for whoever reads the stack.
    const storageFastReads = (req: Request, res: Response, next: NextFunction) => this.handle(req, res, next);
    // In front of the first of the routes it stands for, or with `'ahead'` of the module's route
    // layers before them (their middleware included).
    const ahead = { starts: [files.start, preview.start], methods: ['get', 'head'] };
    placeLayer(app, stack, storageFastReads, Math.min(...found), this.moduleMiddleware ? ahead : undefined);
    return true;
  }

  private handle(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const route = this.routes.find((r) => req.path.startsWith(r.start) && req.path.length > r.start.length);
    if (!route || !this.isActive()) return next();
    const segments = pathSegments(req.path, route.start);
    if (!segments) return next();
    req.params = { path: segments } as never;
    const answer = () => void this.answer(route, segments.join('/'), req, res, next);
    if (!this.moduleMiddleware) return answer();
    noSniff(res);
    this.moduleMiddleware.track(req, res, route.pattern, answer);
  }

  private async answer(route: FastRoute, path: string, req: Request, res: Response, next: NextFunction) {
    try {
      const context = httpContext(route, req, res, next);
      for (const guard of route.guards) {
        // What Nest does with a guard that answers false.
        if (!(await guard.canActivate(context))) throw new ForbiddenException();
      }
      await route.send(req, res, path, (req.query as Record<string, unknown>).storage);
    } catch (err) {
      writeStorageError(res, err);
    }
  }

  /** `'auto'`: decided at the first request, once every global enhancer is registered. */
  private isActive(): boolean {
    this.active ??= noGlobalEnhancers(this.app);
    return this.active;
  }
}

/** The application has no global guard or interceptor, which a request answered ahead of its route would not reach. */
export function noGlobalEnhancers(app: ApplicationConfig): boolean {
  return (
    app.getGlobalGuards().length === 0 &&
    app.getGlobalInterceptors().length === 0 &&
    app.getGlobalRequestGuards().length === 0 &&
    app.getGlobalRequestInterceptors().length === 0
  );
}

/** The execution context Nest would give the route's guards. */
export function httpContext(
  route: Pick<FastRoute, 'controller' | 'handler'>,
  req: Request,
  res: Response,
  next: NextFunction,
): ExecutionContext {
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
