import type { StorageInstanceOptions } from '../drivers/driver-definitions';
import type { StorageOptions } from '../options/storage.options';

/**
 * `StorageModule.forRoot()`'s options: each storage instance typed by its `type`
 * (`storages.LocalType`, `storages.S3Type`, ...), so that an editor completes and checks its
 * options. `loadStorageOptions()` reads the same shape from configuration files and the environment.
 */
export interface StorageModuleOptions extends Omit<StorageOptions, 'storages'> {
  storages: Record<string, StorageInstanceOptions>;
}
