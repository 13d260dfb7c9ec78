import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { finalize, type Observable } from 'rxjs';
import { StorageService } from '../storage/storage.service';
import { InFlight } from '../storage/upload/in-flight';
import type { AppConfig } from './app.config';

/** How long handlers cut at the deadline may take to clean up (remove a half-written upload). */
const CLEANUP_GRACE_MS = 5000;

/**
 * Counts request handlers in flight (the standalone app's, registered as `APP_INTERCEPTOR`).
 * Raw uploads are answered ahead of Nest's route pipeline (`fastUploads`) and never reach it:
 * shutdown waits for them with `StorageService.uploadsSettled`.
 */
@Injectable()
export class HandlersInFlight implements NestInterceptor {
  private readonly running = new InFlight();

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.running.enter();
    return next.handle().pipe(finalize(() => this.running.leave()));
  }

  /** Resolves true once no handler runs, false after `ms`. */
  idle(ms: number): Promise<boolean> {
    return this.running.idle(ms);
  }
}

/**
 * SIGTERM (with `enableShutdownHooks`): the server stops accepting connections at once and closes
 * idle keep-alive ones; transfers in flight get `SHUTDOWN_TIMEOUT_SECONDS` (default 30) to
 * finish. Past it, their connections are cut: an upload cut that way is aborted by its own error
 * path, which removes what it wrote (given a few seconds to do so: until every handler and every
 * upload, including raw uploads answered ahead of the handlers, is over). Then Nest closes the rest (the
 * data source, the SDK clients) and the process exits.
 */
@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown {
  private readonly logger = new Logger(GracefulShutdown.name);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: ConfigService,
    private readonly handlers: HandlersInFlight,
    private readonly storage: StorageService,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server?.listening) return;
    const deadlineMs = this.config.getOrThrow<AppConfig>('app').shutdownTimeoutSeconds * 1000;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A connection that finishes its response while closing would otherwise idle in keep-alive.
    const idler = setInterval(() => server.closeIdleConnections(), 100);
    try {
      const finished = await Promise.race([closed.then(() => true), sleep(deadlineMs).then(() => false)]);
      if (finished) return;
      this.logger.warn(`transfers still in flight after ${deadlineMs / 1000} s: ending them`);
      server.closeAllConnections();
      const done = await Promise.all([
        this.handlers.idle(CLEANUP_GRACE_MS),
        this.storage.uploadsSettled(CLEANUP_GRACE_MS),
      ]);
      if (done.includes(false)) {
        this.logger.warn(`handlers still running ${CLEANUP_GRACE_MS} ms after their connections were cut`);
      }
    } finally {
      clearInterval(idler);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
