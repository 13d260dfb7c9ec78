import { Module, type DynamicModule } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { STORAGE_ROUTE_PREFIX } from './storage.constants';
import { FileEntity } from '../database/entities/file.entity';
import { AdminController } from '../http/admin.controller';
import { FilesController } from '../http/files.controller';
import { LifecycleService } from '../jobs/lifecycle.service';
import { lifecycleEntities } from '../database/entities';
import { lifecycleProviders } from './lifecycle.providers';
import { PreviewController } from '../http/preview.controller';
import { SignController } from '../http/sign.controller';
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
import { authGuardProvider, instanceProviders, storageRegistryProvider } from './storage.providers';
import { SignedUploadService } from '../signing/signed-upload.service';
import { UploadGrants } from '../signing/upload-grants';
import { StorageRegistry } from '../registry/storage-registry';
import { StorageService } from '../storage.service';
import { resolveStorageOptions, STORAGE_OPTIONS } from '../options/resolved-options';
import type { StorageModuleOptions } from '../options/storage.options';
import { UploadService } from '../upload/upload.service';
import { FileRecords } from '../records/file-records';

const CONTROLLERS = [FilesController, PreviewController, AdminController, SignController];

/**
 * `StorageModule.forRoot(options)` / `forRootAsync(...)`: exports `StorageService`. The host
 * provides the TypeORM data source, with `FileEntity`, `ThumbnailEntity` and `storageMigrations` in it.
 */
@Module({})
export class StorageModule extends ConfigurableModuleClass {
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
    if (http) {
      for (const controller of CONTROLLERS) Reflect.defineMetadata(PATH_METADATA, prefix, controller);
    }
    return {
      ...base,
      imports: [...(base.imports ?? []), TypeOrmModule.forFeature([FileEntity, ThumbnailEntity, ...lifecycleEntities])],
      controllers: http ? CONTROLLERS : [],
      providers: [
        ...(base.providers ?? []),
        storageRegistryProvider,
        { provide: STORAGE_ROUTE_PREFIX, useValue: prefix },
        {
          provide: STORAGE_OPTIONS,
          inject: [STORAGE_MODULE_OPTIONS],
          useFactory: (options: StorageModuleOptions) => resolveStorageOptions(options, prefix),
        },
        authGuardProvider(extras),
        StorageAuthGuard,
        PreviewService,
        ThumbnailService,
        FileRecords,
        UploadService,
        StorageService,
        ...lifecycleProviders,
        UploadGrants,
        SignedUploadService,
        ...perInstance,
      ],
      exports: [StorageService, StorageRegistry, LifecycleService, ...perInstance.map((p) => p.provide)],
    };
  }
}
