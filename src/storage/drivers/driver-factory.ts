import * as path from 'node:path';
import { ConfigError, type StorageInstanceConfig } from '../config/storage-config';
import type { StorageDriver } from './storage-driver';

/**
 * How one storage type element is checked and built. `load` is called only for types that are
 * configured, so an SDK is never required unless an instance uses it.
 */
export interface DriverType {
  /** Throws `ConfigError` naming `${field}.<option>` when an option is missing or wrong. */
  validate(options: StorageInstanceConfig, field: string): void;
  create(options: StorageInstanceConfig, context: DriverContext): Promise<StorageDriver> | StorageDriver;
}

export interface DriverContext {
  /** The instance's element name, e.g. `storages.Default`. */
  name: string;
  /** Folder relative `root` options are resolved against (DATA_DIR's parent, the cwd). */
  baseDir: string;
}

export function requireString(options: StorageInstanceConfig, key: string, field: string): string {
  const value = options[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`${field}.${key}`, 'a non-empty string is required');
  }
  return value;
}

export function optionalString(options: StorageInstanceConfig, key: string, field: string): string | undefined {
  const value = options[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ConfigError(`${field}.${key}`, 'must be a string');
  return value;
}

export function checkPublicUrl(options: StorageInstanceConfig, field: string): void {
  const value = optionalString(options, 'publicUrl', field);
  if (value === undefined) return;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new ConfigError(`${field}.publicUrl`, 'must be an http(s) URL');
  }
}

const localType: DriverType = {
  validate(options, field) {
    requireString(options, 'root', field);
    checkPublicUrl(options, field);
  },
  async create(options, context) {
    const { LocalDriver } = await import('./local.driver');
    const driver = new LocalDriver({
      root: path.resolve(context.baseDir, options.root as string),
      publicUrl: options.publicUrl,
    });
    await driver.init();
    return driver;
  },
};

/** Storage type elements by name. Cloud types register here with lazy SDK imports. */
export const DRIVER_TYPES: Record<string, DriverType> = {
  'storages.LocalType': localType,
};

export function driverType(type: unknown, field: string): DriverType {
  const known = Object.keys(DRIVER_TYPES);
  if (typeof type !== 'string' || !DRIVER_TYPES[type]) {
    throw new ConfigError(
      `${field}.type`,
      `unknown storage type ${JSON.stringify(type)}; known types: ${known.join(', ')}`,
    );
  }
  return DRIVER_TYPES[type];
}
