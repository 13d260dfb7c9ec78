import { ConfigurableModuleBuilder, type CanActivate, type Type } from '@nestjs/common';
import type { StorageModuleOptions } from './storage-module.options';

export interface StorageModuleExtras {
  /** Register the module globally (default true). */
  isGlobal?: boolean;
  /** Serve the HTTP API (default true); false for library-only use. */
  http?: boolean;
  /** Route prefix (default `storage`); fixed at definition time because routes are. */
  routePrefix?: string;
  /** Guard for non-public routes (default: bearer tokens from `apiTokens`). */
  authGuard?: Type<CanActivate>;
  /**
   * Downloads and previews answered by the module's middleware, ahead of the router and Nest's
   * per-route pipeline (`StorageFastReads`): the same guards, service and answers, several times
   * the requests per second. `'auto'` (default): only when the application has no global guard
   * or interceptor, which such a request would not reach. `'ahead'`: as `true`, and answered
   * ahead of the module's route layers too, the module's own route middleware (metrics,
   * `nosniff`) run by that layer: for an application that binds no middleware of its own to the
   * module's routes, which such a request would skip (the standalone service).
   */
  fastReads?: boolean | 'auto' | 'ahead';
  /**
   * Raw uploads (`PUT {prefix}/files/{path}`) answered the same way (`StorageFastUploads`): the
   * same guard, handler and answers, without Nest's per-route pipeline. `'auto'` (default): only
   * when the application has no global guard or interceptor. A host whose interceptor waits for
   * uploads at shutdown waits with `StorageService.uploadsSettled` instead when it sets this.
   * `'ahead'`: as `fastReads: 'ahead'` (the module's route middleware run by the layer: metrics,
   * the raw body's headers, the upload idle timer, `nosniff`).
   */
  fastUploads?: boolean | 'auto' | 'ahead';
}

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<StorageModuleOptions>({ moduleName: 'Storage' })
    .setClassMethodName('forRoot')
    .setExtras<StorageModuleExtras>({ isGlobal: true, http: true, routePrefix: 'storage' }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();

export const STORAGE_MODULE_OPTIONS = MODULE_OPTIONS_TOKEN;
