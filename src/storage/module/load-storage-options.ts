import { readStorageOptions, type LoadStorageOptionsParams } from '../options/env-options';
import type { StorageModuleOptions } from './storage-module.options';

export type { LoadStorageOptionsParams } from '../options/env-options';

/**
 * The storage configuration the standalone service uses, for a host's
 * `StorageModule.forRootAsync({ useFactory: () => loadStorageOptions() })`: YAML files in
 * `config/` (`default.yaml`, `<NODE_ENV>.yaml`, the file named by `STORAGE_CONFIG`) with `${VAR}`
 * placeholders, and the environment variables README lists. The instances are checked (each
 * against its type's options) when the module starts, with an error naming the field.
 */
export function loadStorageOptions(params: LoadStorageOptionsParams = {}): StorageModuleOptions {
  return readStorageOptions(params) as StorageModuleOptions;
}
