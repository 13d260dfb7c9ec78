import { optionalBoolean, type RawOptions } from '../config/option-readers';
import { ConfigError } from '../config/storage-config';
import { AZURE_BLOB_TYPE, type AzureBlobInstanceOptions, parseAzureBlobOptions } from './azure-blob/azure-blob.options';
import { LOCAL_TYPE, type LocalInstanceOptions, parseLocalOptions } from './local/local.options';
import { MEMORY_TYPE, type MemoryInstanceOptions, parseMemoryOptions } from './memory/memory.options';
import { MINIO_TYPE, type MinioInstanceOptions, parseMinioOptions } from './minio/minio.options';
import { OSS_TYPE, type OssInstanceOptions, parseOssOptions } from './oss/oss.options';
import { parseS3Options, S3_TYPE, type S3InstanceOptions } from './s3/s3.options';
import type { DriverContext, StorageDriver } from './storage-driver';

/** Options every instance takes whatever its type: read here, never by a driver. */
export type InstanceAccessOptions = {
  /**
   * Preview and thumbnails without a token (default true, as the spec says). `false`: they need
   * a token with the read scope or a signed download URL.
   */
  public?: boolean;
};

/** A storage instance's options as a host writes them, told apart by `type`. */
export type StorageInstanceOptions = InstanceAccessOptions &
  (
    | LocalInstanceOptions
    | S3InstanceOptions
    | MinioInstanceOptions
    | OssInstanceOptions
    | AzureBlobInstanceOptions
    | MemoryInstanceOptions
  );

/** A storage type element name: `storages.LocalType`, `storages.S3Type`, ... */
export type StorageType = StorageInstanceOptions['type'];

/** What a driver module exports for its definition. */
export interface DriverModule<O> {
  /** A driver for `options`, not started yet: its `init` (making a root folder or bucket) runs next. */
  createDriver(options: O, context: DriverContext): StorageDriver & { init?(): Promise<void> };
}

/**
 * How one storage type element is read and built. `load` imports the driver module, and so its
 * SDK, only when an instance of the type is created.
 */
export interface DriverDefinition<O> {
  /** A new resolved options object; throws `ConfigError` naming `${field}.<option>` when one is wrong. */
  parse(raw: RawOptions, field: string): O;
  /** The npm packages the driver needs (its SDK): optional peer dependencies a host installs. */
  packages: readonly string[];
  load(): Promise<DriverModule<O>>;
}

/** Each type element's definition, typed by its driver's resolved options. */
type DefinitionsByType = {
  [T in StorageType]: DriverDefinition<Omit<Extract<StorageInstanceOptions, { type: T }>, 'type'>>;
};

export const DRIVER_DEFINITIONS: DefinitionsByType = {
  [LOCAL_TYPE]: { parse: parseLocalOptions, packages: [], load: () => import('./local/local.driver') },
  [S3_TYPE]: {
    parse: parseS3Options,
    packages: ['@aws-sdk/client-s3', '@aws-sdk/s3-presigned-post', '@aws-sdk/s3-request-presigner'],
    load: () => import('./s3/s3.driver'),
  },
  [MINIO_TYPE]: { parse: parseMinioOptions, packages: ['minio'], load: () => import('./minio/minio.driver') },
  [OSS_TYPE]: { parse: parseOssOptions, packages: ['ali-oss'], load: () => import('./oss/oss.driver') },
  [AZURE_BLOB_TYPE]: {
    parse: parseAzureBlobOptions,
    packages: ['@azure/storage-blob'],
    load: () => import('./azure-blob/azure-blob.driver'),
  },
  // Objects in process memory, for hosts' tests.
  [MEMORY_TYPE]: { parse: parseMemoryOptions, packages: [], load: () => import('./memory/memory.driver') },
};

/** Those of `packages` that cannot be loaded from here (not installed). */
export function missingPackages(packages: readonly string[]): string[] {
  return packages.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * Throws a `ConfigError` at `field` naming the packages a storage type needs and the command
 * that installs them, when any is missing: the SDKs are optional peer dependencies.
 */
export function assertPackagesInstalled(type: string, packages: readonly string[], field: string): void {
  const missing = missingPackages(packages);
  if (missing.length > 0) {
    throw new ConfigError(
      field,
      `${type} needs the package${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; install with: npm install ${missing.join(' ')}`,
    );
  }
}

/** One configured instance, its options parsed; `create` loads its driver module, builds and starts it. */
export interface ParsedInstance {
  type: StorageType;
  /** `public` (default true): preview and thumbnails need no token. */
  public: boolean;
  create(context: DriverContext): Promise<StorageDriver>;
}

/**
 * Parses the options of the instance configured at `field` by its `type`. Throws a `ConfigError`
 * naming `${field}.type` for an unknown type, or the bad option.
 */
export function parseInstance(raw: RawOptions, field: string): ParsedInstance {
  const type = raw.type;
  if (typeof type !== 'string' || !Object.hasOwn(DRIVER_DEFINITIONS, type)) {
    throw new ConfigError(
      `${field}.type`,
      `unknown storage type ${JSON.stringify(type)}; known types: ${Object.keys(DRIVER_DEFINITIONS).join(', ')}`,
    );
  }
  const definition: DriverDefinition<unknown> = DRIVER_DEFINITIONS[type as StorageType];
  const options = definition.parse(raw, field);
  assertPackagesInstalled(type, definition.packages, `${field}.type`);
  return {
    type: type as StorageType,
    public: optionalBoolean(raw, 'public', field) ?? true,
    async create(context) {
      const driver = (await definition.load()).createDriver(options, context);
      await driver.init?.();
      return driver;
    },
  };
}
