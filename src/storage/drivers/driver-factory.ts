import { isIP } from 'node:net';
import * as path from 'node:path';
import { ConfigError, type StorageInstanceConfig } from '../config/storage-config';
import type { AzureBlobDriverOptions } from './azure-blob.driver';
import type { MinioDriverOptions } from './minio.driver';
import type { OssDriverOptions } from './oss.driver';
import type { S3DriverOptions } from './s3.driver';
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

/**
 * A boolean when present. `'true'`/`'false'` strings (what `${VAR}` interpolation yields) are
 * turned into booleans in place, so flags can come from the environment.
 */
export function optionalBoolean(options: StorageInstanceConfig, key: string, field: string): void {
  const value = options[key];
  if (value === 'true' || value === 'false') options[key] = value === 'true';
  else if (value !== undefined && value !== null && typeof value !== 'boolean') {
    throw new ConfigError(`${field}.${key}`, 'must be true or false');
  }
}

/**
 * A whole number of at least `min` when present (port numbers, timeouts, part sizes). A string
 * of digits (from `${VAR}` interpolation) is turned into a number in place.
 */
export function optionalInteger(options: StorageInstanceConfig, key: string, field: string, min = 1, max?: number) {
  let value = options[key];
  if (value === undefined || value === null) return;
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) value = options[key] = Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    throw new ConfigError(`${field}.${key}`, `must be a whole number from ${min}${max ? ` to ${max}` : ''}`);
  }
}

/** `publicUrl`, `timeoutMs` and `createBucket`, which every cloud type takes. */
function checkCloudOptions(options: StorageInstanceConfig, field: string): void {
  checkPublicUrl(options, field);
  optionalInteger(options, 'timeoutMs', field, 100);
  optionalBoolean(options, 'createBucket', field);
}

/** Builds a cloud driver (its module, and so its SDK, loaded only now) and runs its start-up step. */
async function initialized<D extends StorageDriver & { init(): Promise<void> }>(driver: D): Promise<D> {
  await driver.init();
  return driver;
}

const MIB = 1024 * 1024;

const s3Type: DriverType = {
  validate(options, field) {
    requireString(options, 'bucket', field);
    optionalString(options, 'region', field);
    optionalString(options, 'endpoint', field);
    optionalBoolean(options, 'forcePathStyle', field);
    const credentials = options.credentials;
    if (credentials !== undefined) {
      const creds = (credentials ?? {}) as StorageInstanceConfig;
      requireString(creds, 'accessKeyId', `${field}.credentials`);
      requireString(creds, 'secretAccessKey', `${field}.credentials`);
    }
    optionalInteger(options, 'partSize', field, 5 * MIB);
    optionalInteger(options, 'queueSize', field);
    checkCloudOptions(options, field);
  },
  async create(options) {
    const { S3Driver } = await import('./s3.driver');
    return initialized(new S3Driver(options as unknown as S3DriverOptions));
  },
};

const minioType: DriverType = {
  validate(options, field) {
    requireString(options, 'endPoint', field);
    requireString(options, 'bucket', field);
    optionalInteger(options, 'port', field, 1, 65535);
    optionalBoolean(options, 'useSSL', field);
    optionalBoolean(options, 'pathStyle', field);
    optionalString(options, 'region', field);
    if (
      (optionalString(options, 'accessKey', field) === undefined) !==
      (optionalString(options, 'secretKey', field) === undefined)
    ) {
      throw new ConfigError(`${field}.secretKey`, 'accessKey and secretKey go together');
    }
    optionalInteger(options, 'partSize', field, 5 * MIB);
    checkCloudOptions(options, field);
  },
  async create(options) {
    const { MinioDriver } = await import('./minio.driver');
    return initialized(new MinioDriver(options as unknown as MinioDriverOptions));
  },
};

/** The host name or IP of an endpoint written with or without a scheme ('' when unparsable). */
function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

const ossType: DriverType = {
  validate(options, field) {
    requireString(options, 'bucket', field);
    requireString(options, 'accessKeyId', field);
    requireString(options, 'accessKeySecret', field);
    const region = optionalString(options, 'region', field);
    const endpoint = optionalString(options, 'endpoint', field);
    if (!region && (!endpoint || isIP(hostOf(endpoint)))) {
      // With an IP endpoint ali-oss sends Host: <bucket>.<region's host>, so it needs the region too.
      throw new ConfigError(
        `${field}.region`,
        'a region (e.g. oss-cn-beijing) is required unless endpoint is a host name',
      );
    }
    for (const flag of ['secure', 'internal', 'cname', 'sldEnable']) optionalBoolean(options, flag, field);
    optionalInteger(options, 'transferTimeoutMs', field, 100);
    optionalInteger(options, 'partSize', field, 100 * 1024);
    checkCloudOptions(options, field);
  },
  async create(options) {
    const { OssDriver } = await import('./oss.driver');
    return initialized(new OssDriver(options as unknown as OssDriverOptions));
  },
};

const azureBlobType: DriverType = {
  validate(options, field) {
    const connection = requireString(options, 'connectionString', field);
    if (!/(^|;)\s*(AccountName|BlobEndpoint|SharedAccessSignature|UseDevelopmentStorage)=/i.test(connection)) {
      throw new ConfigError(`${field}.connectionString`, 'must be an Azure Storage connection string');
    }
    requireString(options, 'container', field);
    optionalInteger(options, 'transferTimeoutMs', field, 100);
    optionalInteger(options, 'blockSize', field, MIB);
    optionalInteger(options, 'concurrency', field);
    checkCloudOptions(options, field);
  },
  async create(options) {
    const { AzureBlobDriver } = await import('./azure-blob.driver');
    return initialized(new AzureBlobDriver(options as unknown as AzureBlobDriverOptions));
  },
};

/** Storage type elements by name. Cloud types register here with lazy SDK imports. */
export const DRIVER_TYPES: Record<string, DriverType> = {
  'storages.LocalType': localType,
  'storages.S3Type': s3Type,
  'storages.MinioType': minioType,
  'storages.OssType': ossType,
  'storages.AzureBlobType': azureBlobType,
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
