import { Injectable } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { databaseFailureKind, isDatabaseUnavailable } from '../errors/database-errors';
import { JobMetrics } from './job-metrics';
import { counter, histogram } from './metric-factories';

const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const RENDER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The module's Prometheus metrics, one `Registry` per module registration (never prom-client's
 * global default registry): a host's own metrics are left alone and two registrations do not
 * clash. A host exposes them where it likes (`await metrics.registry.metrics()`, or merges them
 * with its own through `Registry.merge`); the standalone service serves them at `GET /metrics`.
 * Every name starts with `storage_`. Nothing needs to read them: they are only counted.
 */
@Injectable()
export class StorageMetrics {
  readonly registry = new Registry();

  /** Requests to the module's routes, by method, route pattern and status. */
  readonly requests = counter(
    this.registry,
    'storage_http_requests_total',
    'Requests to the storage routes, by method, route and status',
    ['method', 'route', 'status'],
  );

  readonly latency = histogram(
    this.registry,
    'storage_http_request_duration_seconds',
    'Time from the request to the end of its answer, by method, route and status',
    REQUEST_BUCKETS,
    ['method', 'route', 'status'],
  );

  /**
   * Bytes read from request bodies (uploads), by route and the storage instance the request
   * wrote to (`none` when it named none, or was refused before its instance was known).
   */
  readonly bytesIn = counter(
    this.registry,
    'storage_http_bytes_in_total',
    'Bytes received on the storage routes (request bodies), by route and storage instance',
    ['route', 'instance'],
  );

  /** Bytes written in answers (downloads, previews, thumbnails), by route and the instance served from. */
  readonly bytesOut = counter(
    this.registry,
    'storage_http_bytes_out_total',
    'Bytes of response bodies sent on the storage routes, by route and storage instance',
    ['route', 'instance'],
  );

  /** Bytes stored by completed uploads, by instance. */
  readonly bytesStored = counter(
    this.registry,
    'storage_upload_bytes_total',
    'Bytes of completed uploads, by storage instance',
    ['instance'],
  );

  readonly uploadsInFlight = new Gauge({
    name: 'storage_uploads_in_flight',
    help: 'Uploads in progress in this process',
    registers: [this.registry],
  });

  /** Refused or failed requests by stable error code (`E_NOT_FOUND`, `E_BACKEND_UNAVAILABLE`, ...). */
  readonly errors = counter(
    this.registry,
    'storage_errors_total',
    'Error answers on the storage routes, by error code',
    ['code'],
  );

  /** Thumbnails rendered, by whether the result was stored (`false`: past `maxDerivativesPerSource`). */
  readonly thumbnailRenders = counter(
    this.registry,
    'storage_thumbnail_renders_total',
    'Thumbnails rendered, by whether the derivative was stored (false: past the per-source cap)',
    ['stored'],
  );

  /** Decoding and encoding one thumbnail (sharp), without reading the source or storing the result. */
  readonly thumbnailRenderDuration = histogram(
    this.registry,
    'storage_thumbnail_render_duration_seconds',
    'Time to decode and encode one thumbnail',
    RENDER_BUCKETS,
  );

  readonly thumbnailCacheHits = counter(
    this.registry,
    'storage_thumbnail_cache_hits_total',
    'Thumbnails served from a stored derivative, without rendering',
  );

  /** Thumbnail requests refused, by reason (see `thumbnailRefusalReason`). */
  readonly thumbnailRefusals = counter(
    this.registry,
    'storage_thumbnail_refusals_total',
    'Thumbnail requests refused, by reason',
    ['reason'],
  );

  /** The expiry sweeper (`LifecycleService.sweepExpired`): runs, durations, what it removed. */
  readonly sweeper = new JobMetrics(this.registry, 'sweeper');

  /** The reconciler (`LifecycleService.reconcile`): runs, durations, what it repaired or found. */
  readonly reconciler = new JobMetrics(this.registry, 'reconciler');

  /** Answers (and background runs) that failed because the database was down or hung. */
  readonly databaseFailures = counter(
    this.registry,
    'storage_database_failures_total',
    'Work that failed because the database was unavailable or did not answer in time, by kind',
    ['kind'],
  );

  /** Backend calls that failed through the backend's fault (not a missing key, not the client's). */
  readonly backendFailures = counter(
    this.registry,
    'storage_backend_failures_total',
    'Failed storage backend calls, by instance, operation and error code',
    ['instance', 'operation', 'code'],
  );

  /** Counts `err` in `storage_database_failures_total` when it says the database is down or hung. */
  countDatabaseFailure(err: unknown): void {
    if (isDatabaseUnavailable(err)) this.databaseFailures.inc({ kind: databaseFailureKind(err) });
  }
}
