import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageMetrics } from '../storage/metrics/storage-metrics';
import type { AppConfig } from './app.config';
import { METRICS_CONTENT_TYPE, metricsAuthorized } from './metrics-access';

/**
 * With `METRICS_PORT` set, `GET /metrics` is served by this small server of its own on that port
 * (so that it can stay off the public network) and not on the main one; every other path is a
 * 404. `METRICS_TOKEN` applies as on the main port. Started only in an application with an HTTP
 * server (not in the CLI's context); closed, with its connections, on shutdown.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private server?: Server;

  constructor(
    private readonly metrics: StorageMetrics,
    private readonly config: ConfigService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** The port it listens on (the one chosen by the system for `METRICS_PORT=0`), once started. */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { metricsPort } = this.config.getOrThrow<AppConfig>('app');
    if (metricsPort === undefined || !this.adapterHost.httpAdapter) return;
    const server = createServer((req, res) => void this.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(metricsPort, () => resolve());
    });
    this.server = server;
    this.logger.log(`metrics served on port ${this.port} at /metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return sendError(res, 404, 'E_NOT_FOUND', 'only GET /metrics is served on this port');
    }
    if (!metricsAuthorized(req.headers.authorization, this.config.getOrThrow<AppConfig>('app').metricsToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendError(res, 401, 'E_UNAUTHORIZED', 'send Authorization: Bearer <METRICS_TOKEN>');
    }
    try {
      send(res, 200, METRICS_CONTENT_TYPE, await this.metrics.registry.metrics(), req.method === 'HEAD');
    } catch (err) {
      this.logger.error(`collecting metrics: ${String(err)}`);
      sendError(res, 500, 'E_INTERNAL', 'internal error');
    }
  }
}

/** The JSON error body the rest of the service answers: `{statusCode, code, message}`. */
function sendError(res: ServerResponse, statusCode: number, code: string, message: string): void {
  send(res, statusCode, 'application/json; charset=utf-8', JSON.stringify({ statusCode, code, message }));
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(headOnly ? undefined : body);
}
