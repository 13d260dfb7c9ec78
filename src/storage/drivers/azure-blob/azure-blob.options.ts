import type { StorageRetryOptions, StorageRetryPolicyType } from '@azure/storage-blob';
import { ConfigError } from '../../config/storage-config';
import {
  nestedOptions,
  optionalInteger,
  optionalString,
  type RawOptions,
  requireString,
} from '../../config/option-readers';
import { type CloudDriverOptions, parseCloudOptions } from '../shared/cloud.options';
import { MIB } from '../shared/multipart';

export const AZURE_BLOB_TYPE = 'storages.AzureBlobType';

/** `@azure/storage-blob` options (same names), plus the container and our knobs. */
export type AzureBlobDriverOptions = CloudDriverOptions & {
  /** An account connection string; signed uploads need one with an `AccountKey`. */
  connectionString: string;
  container: string;
  /** The SDK's retry options; defaults keep a dead endpoint's retries within a few seconds. */
  retryOptions?: StorageRetryOptions;
  /** Azure's server-side `timeout` of one request (copies, reads); default 10 min. Each request of a put is bounded by `timeoutMs`. */
  transferTimeoutMs?: number;
  /** Block size for uploads (default 4 MiB) and blocks in flight (default 4): memory = product. */
  blockSize?: number;
  concurrency?: number;
};

/** A `storages.AzureBlobType` instance as configured. */
export type AzureBlobInstanceOptions = { type: typeof AZURE_BLOB_TYPE } & AzureBlobDriverOptions;

/** Reads an Azure Blob instance's options; throws a `ConfigError` naming the bad one. */
export function parseAzureBlobOptions(raw: RawOptions, field: string): AzureBlobDriverOptions {
  const connectionString = requireString(raw, 'connectionString', field);
  if (!/(^|;)\s*(AccountName|BlobEndpoint|SharedAccessSignature|UseDevelopmentStorage)=/i.test(connectionString)) {
    throw new ConfigError(`${field}.connectionString`, 'must be an Azure Storage connection string');
  }
  return {
    connectionString,
    container: requireString(raw, 'container', field),
    retryOptions: raw.retryOptions === undefined ? undefined : parseRetryOptions(raw, `${field}.retryOptions`),
    transferTimeoutMs: optionalInteger(raw, 'transferTimeoutMs', field, 100),
    blockSize: optionalInteger(raw, 'blockSize', field, MIB),
    concurrency: optionalInteger(raw, 'concurrency', field),
    ...parseCloudOptions(raw, field),
  };
}

/** The retry options that are set, and only those: the driver spreads them over its defaults. */
function parseRetryOptions(raw: RawOptions, field: string): StorageRetryOptions {
  const retry = nestedOptions(raw, 'retryOptions');
  const parsed = {
    // StorageRetryPolicyType: 0 exponential, 1 fixed.
    retryPolicyType: optionalInteger(retry, 'retryPolicyType', field, 0, 1) as StorageRetryPolicyType | undefined,
    maxTries: optionalInteger(retry, 'maxTries', field),
    tryTimeoutInMs: optionalInteger(retry, 'tryTimeoutInMs', field),
    retryDelayInMs: optionalInteger(retry, 'retryDelayInMs', field, 0),
    maxRetryDelayInMs: optionalInteger(retry, 'maxRetryDelayInMs', field, 0),
    secondaryHost: optionalString(retry, 'secondaryHost', field),
  };
  return Object.fromEntries(Object.entries(parsed).filter(([, value]) => value !== undefined));
}
