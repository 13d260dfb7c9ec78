import { Controller, Get, Header, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { ConfigService } from '@nestjs/config';
import { HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { StorageHealthIndicator } from '../storage/health/storage-health.indicator';
import type { AppConfig } from './app.config';

/**
 * `GET /health/live`: 200 once the process serves requests (the container's `HEALTHCHECK`).
 * `GET /health/ready`: the database (`SELECT 1`) and every storage instance (a read-only probe),
 * each within `timeoutMs`; 503 naming what is down while anything is, and while shutting down.
 * No login; terminus' JSON shape.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly storage: StorageHealthIndicator,
    private readonly config: ConfigService,
  ) {}

  /** Always 200 while the process answers (during a shutdown too: readiness says that). */
  @Get('live')
  @Header('Cache-Control', 'no-store')
  live(): { status: 'ok'; info: Record<string, never>; error: Record<string, never>; details: Record<string, never> } {
    return { status: 'ok', info: {}, error: {}, details: {} };
  }

  @Get('ready')
  @Header('Cache-Control', 'no-store')
  async ready(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    const timeoutMs = this.config.getOrThrow<AppConfig>('app').dbTimeoutMs;
    try {
      return await this.health.check([
        () => this.storage.checkDatabase('database', timeoutMs),
        () => this.storage.checkStorages(undefined, timeoutMs),
      ]);
    } catch (err) {
      // Terminus' 503 carries its report; answered here, since the app's error filter would
      // replace it with an error body.
      if (!(err instanceof ServiceUnavailableException)) throw err;
      res.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }
}
