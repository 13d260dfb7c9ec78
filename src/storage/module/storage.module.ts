import {
  Inject,
  Module,
  Optional,
  type DynamicModule,
  type MiddlewareConsumer,
  type NestModule,
  type Type,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { STORAGE_HTTP, STORAGE_ROUTE_PREFIX, type StorageHttpParts } from './storage.constants';
import { FileEntity } from '../database/entities/file.entity';
import { LifecycleService } from '../jobs/lifecycle.service';
import { lifecycleEntities } from '../database/entities';
import { lifecycleProviders } from './lifecycle.providers';
import { PreviewService } from '../serving/preview.service';
import { ThumbnailEntity } from '../database/entities/thumbnail.entity';
import { ThumbnailService } from '../thumbnails/thumbnail.service';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
  STORAGE_MODULE_OPTIONS,
  type StorageModuleExtras,
} from './storage.module-definition';
import { authGuardProvider, instanceProviders, rateLimitProviders, storageRegistryProvider } from './storage.providers';
import { SignedUploadService } from '../signing/signed-upload.service';
import { DirectMultipartService } from '../signing/direct-multipart.service';
import { UploadGrants } from '../signing/upload-grants';
import { SignedDownloads } from '../signing/signed-downloads';
import { AccessPolicy } from '../auth/access-policy';
import { StorageRegistry } from '../registry/storage-registry';
import { StorageService } from '../storage.service';
import { resolveStorageOptions, STORAGE_OPTIONS } from '../options/resolved-options';
import type { StorageModuleOptions } from './storage-module.options';
import { UploadService } from '../upload/upload.service';
import { FileRecords } from '../records/file-records';
import { LiveRecordLookup } from '../records/live-record-lookup';
import { StorageHealthIndicator } from '../health/storage-health.indicator';

import { StorageRequestMiddleware } from '../http/request-bodies';
import { storageControllers } from '../http/storage-controllers';
import { RawUploadShield } from './raw-upload-shield';
import { KeyLocks } from '../ledger/key-locks';
import { StorageMetrics } from '../metrics/storage-metrics';
import { StorageMetricsMiddleware } from '../http/metrics.middleware';
import { FAST_READS, StorageFastReads, type FastReadsSettings } from '../http/fast-reads';
import { FAST_UPLOADS, StorageFastUploads } from '../http/fast-uploads';
import { DatabaseLocker } from '../tus/database-locker';
import { ResumableUploads } from '../tus/resumable-uploads';
import { TusService } from '../tus/tus.service';

/**
 * `StorageModule.forRoot(options)` / `forRootAsync(...)`: exports `StorageService`. The host
 * provides the TypeORM data source, with `FileEntity`, `ThumbnailEntity` and `storageMigrations` in it.
 */
@Module({})
export class StorageModule extends ConfigurableModuleClass implements NestModule {
  constructor(@Optional() @Inject(STORAGE_HTTP) private readonly http?: StorageHttpParts) {
    super();
  }

  /** The module's middleware, on its own routes only: nosniff, its body limit, raw uploads kept raw. */
  configure(consumer: MiddlewareConsumer): void {
    if (this.http) {
      consumer.apply(StorageMetricsMiddleware, StorageRequestMiddleware).forRoutes(...this.http.controllers);
    }
  }

  static override forRoot(options: typeof OPTIONS_TYPE): DynamicModule {
    return StorageModule.withParts(super.forRoot(options), options, Object.keys(options.storages ?? {}));
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return StorageModule.withParts(super.forRootAsync(options), options);
  }

  /** `instances`: element names known at definition time, each registered as its own driver provider. */
  private static withParts(base: DynamicModule, extras: StorageModuleExtras, instances: string[] = []): DynamicModule {
    const perInstance = instanceProviders(instances);
    const http = extras.http ?? true;
    const prefix = (extras.routePrefix ?? 'storage').replace(/^\/+|\/+$/g, '');
    const controllers: Type[] = http ? storageControllers(prefix) : [];
    const httpParts: StorageHttpParts = { prefix, controllers };
    const fastReads: FastReadsSettings = { mode: extras.fastReads ?? 'auto', controllers };
    const fastUploads: FastReadsSettings = { mode: extras.fastUploads ?? 'auto', controllers };
    return {
      ...base,
      imports: [...(base.imports ?? []), TypeOrmModule.forFeature([FileEntity, ThumbnailEntity, ...lifecycleEntities])],
      controllers,
      providers: [
        ...(base.providers ?? []),
        storageRegistryProvider,
        { provide: STORAGE_ROUTE_PREFIX, useValue: prefix },
        ...(http
          ? [
              { provide: STORAGE_HTTP, useValue: httpParts },
              { provide: FAST_READS, useValue: fastReads },
              { provide: FAST_UPLOADS, useValue: fastUploads },
              RawUploadShield,
              ...rateLimitProviders,
              StorageFastReads,
              StorageFastUploads,
            ]
          : []),
        {
          provide: STORAGE_OPTIONS,
          inject: [STORAGE_MODULE_OPTIONS],
          useFactory: (options: StorageModuleOptions) => resolveStorageOptions(options, { routePrefix: prefix, http }),
        },
        authGuardProvider(extras),
        StorageAuthGuard,
        PreviewService,
        ThumbnailService,
        FileRecords,
        LiveRecordLookup,
        UploadService,
        StorageService,
        StorageMetrics,
        ...lifecycleProviders,
        UploadGrants,
        SignedUploadService,
        DirectMultipartService,
        SignedDownloads,
        AccessPolicy,
        StorageHealthIndicator,
        DatabaseLocker,
        ResumableUploads,
        TusService,
        ...perInstance,
      ],
      exports: [
        StorageService,
        StorageRegistry,
        LifecycleService,
        StorageMetrics,
        StorageHealthIndicator,
        // The standalone app's WAL checkpointer runs its checkpoints between writes, in this queue.
        KeyLocks,
        ...perInstance.map((p) => p.provide),
      ],
    };
  }
}
