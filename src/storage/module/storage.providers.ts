import { Inject, type FactoryProvider, type Provider } from '@nestjs/common';
import { ApiTokenGuard } from '../auth/api-token.guard';
import { STORAGE_AUTH_GUARD } from '../auth/auth.constants';
import { storageDriverToken } from './storage.constants';
import { STORAGE_MODULE_OPTIONS, type StorageModuleExtras } from './storage.module-definition';
import type { StorageOptions } from '../options/storage.options';
import { StorageRegistry } from '../registry/storage-registry';

/** Builds (and validates) every configured storage instance once, at start-up. */
export const storageRegistryProvider: Provider = {
  provide: StorageRegistry,
  inject: [STORAGE_MODULE_OPTIONS],
  useFactory: (options: StorageOptions) => StorageRegistry.create(options),
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
