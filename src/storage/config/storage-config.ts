/** The storage part of configuration, in the shape of DESIGN.md: instances by element name. */
export interface StorageInstanceConfig {
  /** A storage type element: `storages.LocalType`, `storages.S3Type`, ... */
  type: string;
  /** Base URL objects are publicly served from (a CDN in front of a public bucket). */
  publicUrl?: string;
  /** Everything else is the type's own options (its SDK's client options, `bucket`, `root`). */
  [option: string]: unknown;
}

export interface StorageSettings {
  defaultElement?: { defaultStorage?: string };
}

export interface StorageConfig {
  settings?: StorageSettings;
  storages: Record<string, StorageInstanceConfig>;
}

export const FALLBACK_STORAGE = 'storages.Default';

/** Thrown at start-up; names the offending field so the operator knows what to fix. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`invalid configuration at '${field}': ${problem}`);
    this.name = 'ConfigError';
  }
}

export function defaultStorageName(config: StorageConfig): string {
  return config.settings?.defaultElement?.defaultStorage || FALLBACK_STORAGE;
}
