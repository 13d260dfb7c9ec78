import { Controller, Get, Header } from '@nestjs/common';
import { StorageMetrics } from '../storage/metrics/storage-metrics';

/** `GET /metrics`: the storage module's Prometheus registry, in the text exposition format. */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: StorageMetrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
