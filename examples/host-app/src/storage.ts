import * as path from 'node:path';
import type { StorageModuleOptions } from 'storage-svc';
import type { HostConfig } from './config';

/** The storage module's options: files on local disk under the data folder, plus any extra instance. */
export function storageOptions(config: HostConfig): StorageModuleOptions {
  return {
    storages: {
      'storages.Default': { type: 'storages.LocalType', root: path.join(config.dataDir, 'files') },
      ...config.extraStorages,
    },
    settings: { defaultElement: { defaultStorage: 'storages.Default' } },
    publicBaseUrl: config.publicBaseUrl,
    apiTokens: config.apiTokens,
    ...(config.signingSecret ? { signing: { secret: config.signingSecret } } : {}),
  };
}
