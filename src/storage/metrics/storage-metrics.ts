import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The module's Prometheus metrics, one `Registry` per module registration (never prom-client's
 * global default registry): a host's own metrics are left alone and two registrations do not
 * clash. A host exposes them where it likes (`await metrics.registry.metrics()`, or merges them
 * with its own through `Registry.merge`); the standalone service serves them at `GET /metrics`.
 * Every name starts with `storage_`.
 */
@Injectable()
export class StorageMetrics {
  readonly registry = new Registry();

  /** Requests to the module's routes, by method, route pattern and status. */
  readonly requests = new Counter({
    name: 'storage_http_requests_total',
    help: 'Requests to the storage routes, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly latency = new Histogram({
    name: 'storage_http_request_duration_seconds',
    help: 'Time from the request to the end of its answer, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  /** Bytes read from request bodies (uploads), by route. */
  readonly bytesIn = new Counter({
    name: 'storage_http_bytes_in_total',
    help: 'Bytes received on the storage routes (request bodies), by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  /** Bytes written in answers (downloads), by route. */
  readonly bytesOut = new Counter({
    name: 'storage_http_bytes_out_total',
    help: 'Bytes of response bodies sent on the storage routes, by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  /** Bytes stored by completed uploads, by instance. */
  readonly bytesStored = new Counter({
    name: 'storage_upload_bytes_total',
    help: 'Bytes of completed uploads, by storage instance',
    labelNames: ['instance'] as const,
    registers: [this.registry],
  });

  readonly uploadsInFlight = new Gauge({
    name: 'storage_uploads_in_flight',
    help: 'Uploads in progress in this process',
    registers: [this.registry],
  });

  /** Refused or failed requests by stable error code (`E_NOT_FOUND`, `E_BACKEND_UNAVAILABLE`, ...). */
  readonly errors = new Counter({
    name: 'storage_errors_total',
    help: 'Error answers on the storage routes, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
}
