import { ForbiddenException, Inject, Injectable, type Type } from '@nestjs/common';
import { ApplicationConfig, ModuleRef } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { requestUser } from '../auth/storage-user';
import { writeStorageError } from '../errors/storage-exception.filter';
import { StorageMetrics } from '../metrics/storage-metrics';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { pathSegments, placeLayer, routeIndex, routerStack } from './fast-layer';
import { httpContext, noGlobalEnhancers, type FastReadsSettings } from './fast-reads';
import { FilesController } from './files.controller';
import { StorageMetricsMiddleware } from './metrics.middleware';
import { StorageRequestMiddleware } from './request-bodies';

/** `fastUploads` (a module extra) and the registration's routed controller classes. */
export const FAST_UPLOADS = Symbol('FAST_UPLOADS');

/** The raw upload route as Express holds it, and what answers it here. */
interface UploadRoute {
  /** The route's path up to its `*path` (global prefix included): `/storage/files/`. */
  start: string;
  /** The route's whole pattern, `/storage/files/*path`: its metrics label. */
  pattern: string;
  controller: Type;
  handler: (...args: never[]) => unknown;
  files: FilesController;
}

/**
 * Raw uploads (`PUT {prefix}/files/{path}`), answered by one Express layer placed right before
 * their route, as `StorageFastReads` answers downloads: after every middleware (the host's, the
 * logger, the module's metrics, body handling and upload idle timer), ahead of Nest's per-route
 * pipeline (guard and interceptor chains, rxjs, parameter decorators). The answer is the route's
 * own: `StorageAuthGuard` (with the configured `authGuard`) asked about the route's controller
 * and handler (`FilesController.put`, `write` scope), then that handler on the route's controller
 * instance, answered as Nest answers it (201, the record as JSON); an error is written as the
 * module's filter writes it. Multipart `POST` and every other route stay with Nest.
 *
 * `fastUploads` (a module extra): by default (`'auto'`) only while the application has no global
 * guard or interceptor, which these requests would not reach. A host that counts handlers in
 * flight with an interceptor (to wait for them at shutdown) can wait for uploads with
 * `StorageService.uploadsSettled` instead.
 */
@Injectable()
export class StorageFastUploads {
  private route: UploadRoute | undefined;
  private active: boolean | undefined;
  /** `'ahead'`: the module's own route middleware (metrics, the raw body's headers, the idle timer), run here. */
  private readonly moduleMiddleware: { metrics: StorageMetricsMiddleware; request: StorageRequestMiddleware } | null;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly auth: StorageAuthGuard,
    @Inject(FAST_UPLOADS) private readonly settings: FastReadsSettings,
    private readonly app: ApplicationConfig,
    metrics: StorageMetrics,
    @InjectStorageOptions() options: ResolvedStorageOptions,
  ) {
    this.moduleMiddleware =
      settings.mode === 'ahead'
        ? { metrics: new StorageMetricsMiddleware(metrics), request: new StorageRequestMiddleware(options) }
        : null;
  }

  /**
   * Places the layer in `app` (Express) right before the module's raw upload route, once it
   * exists. False when it cannot (not Express, route not found, or `fastUploads: false`).
   */
  install(app: unknown, prefix: string): boolean {
    if (this.settings.mode === false) return false;
    const stack = routerStack(app);
    if (!stack) return false;
    const index = routeIndex(stack, prefix, 'files/*path', 'put');
    if (index < 0) return false;
    const controller = this.settings.controllers.find((c) => c.prototype instanceof FilesController) ?? FilesController;
    const pattern = stack[index].route!.path;
    const start = pattern.replace(/\*path$/, '');
    this.route = {
      start,
      pattern,
      controller,
      handler: FilesController.prototype.put,
      files: this.moduleRef.get<FilesController>(controller, { strict: false }),
    };
    // Named: Express keeps the name on the layer. In front of the route it stands for, or with
    // `'ahead'` of the module's route layers before it (their middleware included).
    const storageFastUploads = (req: Request, res: Response, next: NextFunction) => this.handle(req, res, next);
    const ahead = { starts: [start], methods: ['put'] };
    placeLayer(app, stack, storageFastUploads, index, this.moduleMiddleware ? ahead : undefined);
    return true;
  }

  private handle(req: Request, res: Response, next: NextFunction): void {
    const route = this.route;
    if (req.method !== 'PUT' || !route || !req.path.startsWith(route.start)) return next();
    if (req.path.length <= route.start.length || !this.isActive()) return next();
    const segments = pathSegments(req.path, route.start);
    if (!segments) return next();
    req.params = { path: segments } as never;
    const answer = () => void this.answer(route, segments.join('/'), req, res, next);
    const module = this.moduleMiddleware;
    if (!module) return answer();
    // As the route's middleware, in their order: the metrics, then the body's headers put back
    // (hidden from the app's parsers), the idle timer and `nosniff`.
    module.metrics.track(req, res, route.pattern, () => module.request.use(req, res, answer));
  }

  private async answer(route: UploadRoute, path: string, req: Request, res: Response, next: NextFunction) {
    try {
      // What Nest does with a guard that answers false.
      if (!(await this.auth.canActivate(httpContext(route, req, res, next)))) throw new ForbiddenException();
      const record = await route.files.put(req, res, path, requestUser(req));
      // What Nest answers for the route: its `@HttpCode(201)`, an object as JSON.
      res.status(201).json(record);
    } catch (err) {
      writeStorageError(res, err);
    }
  }

  /** `'auto'` is decided at the first request, once every global enhancer is registered. */
  private isActive(): boolean {
    this.active ??= this.settings.mode === 'auto' ? noGlobalEnhancers(this.app) : this.settings.mode !== false;
    return this.active;
  }
}
