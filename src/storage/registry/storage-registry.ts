import { Logger } from '@nestjs/common';
import { ConfigError, defaultStorageName, type StorageInstanceConfig } from '../config/storage-config';
import { isPlainObject } from '../config/load-config';
import { type ParsedInstance, parseInstance } from '../drivers/driver-definitions';
import type { StorageDriver } from '../drivers/storage-driver';
import { StorageError } from '../errors/storage.error';
import type { StorageOptions } from '../options/storage.options';
import type { StorageMetrics } from '../metrics/storage-metrics';
import { meteredDriver } from './metered-driver';

export interface StorageInstance {
  /** Element name, e.g. `storages.Default`. */
  name: string;
  /** Storage type element, e.g. `storages.LocalType`. */
  type: string;
  config: StorageInstanceConfig;
  driver: StorageDriver;
  /** False for `public: false`: preview and thumbnails need a token or a signed download URL. */
  public: boolean;
}

/**
 * Checks the whole storage configuration, throwing a `ConfigError` that names the bad field, and
 * returns each instance's parsed options by element name.
 */
export function validateStorageConfig(options: StorageOptions): Map<string, ParsedInstance> {
  if (!isPlainObject(options.storages) || Object.keys(options.storages).length === 0) {
    throw new ConfigError('storages', 'at least one storage instance is required');
  }
  const parsed = new Map<string, ParsedInstance>();
  for (const [name, config] of Object.entries(options.storages)) {
    const field = `storages['${name}']`;
    if (!/^storages\.[A-Za-z0-9_.-]+$/.test(name)) {
      throw new ConfigError(field, "instance names are element names like 'storages.MyOss'");
    }
    if (!isPlainObject(config)) throw new ConfigError(field, 'must be an object with a type');
    parsed.set(name, parseInstance(config, field));
  }
  const fallback = defaultStorageName(options);
  if (!options.storages[fallback]) {
    throw new ConfigError(
      'settings.defaultElement.defaultStorage',
      `'${fallback}' is not a configured storage; configured: ${Object.keys(options.storages).join(', ')}`,
    );
  }
  return parsed;
}

/** The configured storage instances, built once at start-up, looked up by element name. */
export class StorageRegistry {
  private readonly logger = new Logger(StorageRegistry.name);

  private constructor(
    private readonly instances: Map<string, StorageInstance>,
    readonly defaultName: string,
  ) {}

  /** With `metrics`, each driver's failed calls are counted in `storage_backend_failures_total`. */
  static async create(options: StorageOptions, metrics?: StorageMetrics): Promise<StorageRegistry> {
    const instances = new Map<string, StorageInstance>();
    const baseDir = options.baseDir ?? process.cwd();
    for (const [name, parsed] of validateStorageConfig(options)) {
      const created = await parsed.create({ name, baseDir });
      const driver = metrics
        ? meteredDriver(created, (operation, code) => metrics.backendFailures.inc({ instance: name, operation, code }))
        : created;
      instances.set(name, { name, type: parsed.type, config: options.storages[name], driver, public: parsed.public });
    }
    return new StorageRegistry(instances, defaultStorageName(options));
  }

  /** The instance named `name`, or the default; `E_UNKNOWN_STORAGE` lists the configured ones. */
  get(name?: string | null): StorageInstance {
    const key = name || this.defaultName;
    const instance = this.instances.get(key);
    if (!instance) {
      throw StorageError.unknownStorage(key, this.names());
    }
    return instance;
  }

  /** The instance named `name`, or the default; undefined when there is none of that name. */
  find(name?: string | null): StorageInstance | undefined {
    return this.instances.get(name || this.defaultName);
  }

  names(): string[] {
    return [...this.instances.keys()];
  }

  all(): StorageInstance[] {
    return [...this.instances.values()];
  }

  async close(): Promise<void> {
    for (const instance of this.instances.values()) {
      await instance.driver.close?.().catch((err: unknown) => this.logger.warn(`closing ${instance.name}: ${err}`));
    }
  }
}
