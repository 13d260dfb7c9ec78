import { Controller, Get, Header, Headers, Res, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Response } from 'express';
import { StorageMetrics } from '../storage/metrics/storage-metrics';
import type { AppConfig } from './app.config';
import { METRICS_CONTENT_TYPE, metricsAuthorized } from './metrics-access';

/**
 * `GET /metrics` on the main port (only while `METRICS_PORT` is unset): the storage module's
 * Prometheus registry, in the text exposition format; with `METRICS_TOKEN`, only for
 * `Authorization: Bearer <token>` (401 otherwise).
 */
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: StorageMetrics,
    private readonly config: ConfigService,
  ) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  scrape(@Res({ passthrough: true }) res: Response, @Headers('authorization') authorization?: string): Promise<string> {
    if (!metricsAuthorized(authorization, this.config.getOrThrow<AppConfig>('app').metricsToken)) {
      throw new UnauthorizedException('send Authorization: Bearer <METRICS_TOKEN>');
    }
    res.setHeader('Content-Type', METRICS_CONTENT_TYPE);
    return this.metrics.registry.metrics();
  }
}
