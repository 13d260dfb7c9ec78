import type { Provider } from '@nestjs/common';
import { ApiTokenGuard } from './auth/api-token.guard';
import { STORAGE_AUTH_GUARD } from './storage.constants';
import { STORAGE_MODULE_OPTIONS, type StorageModuleExtras } from './storage.module-definition';
import type { StorageModuleOptions } from './storage.options';
import { StorageRegistry } from './storage-registry';

/** Builds (and validates) every configured storage instance once, at start-up. */
export const storageRegistryProvider: Provider = {
  provide: StorageRegistry,
  inject: [STORAGE_MODULE_OPTIONS],
  useFactory: (options: StorageModuleOptions) => StorageRegistry.create(options),
};

export function authGuardProvider(extras: StorageModuleExtras): Provider {
  return { provide: STORAGE_AUTH_GUARD, useClass: extras.authGuard ?? ApiTokenGuard };
}
