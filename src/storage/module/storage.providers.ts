import { Inject, type FactoryProvider, type Provider } from '@nestjs/common';
import { ApiTokenGuard } from '../auth/api-token.guard';
import { STORAGE_AUTH_GUARD } from '../auth/auth.constants';
import { storageDriverToken } from './storage.constants';
import { STORAGE_MODULE_OPTIONS, type StorageModuleExtras } from './storage.module-definition';
import type { StorageOptions } from '../options/storage.options';
import { StorageRegistry } from '../registry/storage-registry';
import { ThrottlerStorageService } from '@nestjs/throttler';
import {
  PUBLIC_RATE_LIMIT_STORAGE,
  PUBLIC_RATE_LIMITS,
  PublicRateLimitGuard,
  publicRateLimits,
} from '../http/public-rate-limit.guard';
import { RedisRateLimitStorage } from '../http/redis-rate-limit.storage';
import { STORAGE_OPTIONS, type ResolvedStorageOptions } from '../options/resolved-options';
import { StorageMetrics } from '../metrics/storage-metrics';

/** Builds (and validates) every configured storage instance once, at start-up; their failures are counted. */
export const storageRegistryProvider: Provider = {
  provide: StorageRegistry,
  inject: [STORAGE_MODULE_OPTIONS, StorageMetrics],
  useFactory: (options: StorageOptions, metrics: StorageMetrics) => StorageRegistry.create(options, metrics),
};

export function authGuardProvider(extras: StorageModuleExtras): Provider {
  return { provide: STORAGE_AUTH_GUARD, useClass: extras.authGuard ?? ApiTokenGuard };
}

/**
 * One provider per storage instance, by element name (`@InjectStorageDriver('storages.Media')`),
 * for `forRoot`, whose instance names are known when the module is defined.
 */
export function instanceProviders(names: string[]): Array<FactoryProvider & { provide: string }> {
  return names.map((name) => ({
    provide: storageDriverToken(name),
    inject: [StorageRegistry],
    useFactory: (registry: StorageRegistry) => registry.get(name).driver,
  }));
}

/** Injects the driver of the storage instance named `name` (registered by `forRoot`). */
export const InjectStorageDriver = (name: string): ParameterDecorator => Inject(storageDriverToken(name));

/**
 * The public routes' rate limits (`rateLimit`): the throttler options and where counts live,
 * under the module's own tokens, and the guard its preview controller uses.
 */
export const rateLimitProviders: Provider[] = [
  {
    provide: PUBLIC_RATE_LIMITS,
    inject: [STORAGE_OPTIONS],
    useFactory: (options: ResolvedStorageOptions) => publicRateLimits(options.rateLimit),
  },
  {
    provide: PUBLIC_RATE_LIMIT_STORAGE,
    inject: [STORAGE_OPTIONS],
    useFactory: ({ rateLimit }: ResolvedStorageOptions) =>
      rateLimit.redis ? new RedisRateLimitStorage(rateLimit.redis, rateLimit.keyPrefix) : new ThrottlerStorageService(),
  },
  PublicRateLimitGuard,
];
