import { ConfigError } from '../../config/storage-config';
import {
  optionalBoolean,
  optionalInteger,
  optionalString,
  type RawOptions,
  requireString,
} from '../../config/option-readers';
import { type CloudDriverOptions, parseCloudOptions } from '../shared/cloud.options';
import { MIB } from '../shared/multipart';

export const MINIO_TYPE = 'storages.MinioType';

/** The `minio` client's own options (same names), plus the bucket and our knobs. */
export type MinioDriverOptions = CloudDriverOptions & {
  endPoint: string;
  port?: number;
  useSSL?: boolean;
  accessKey?: string;
  secretKey?: string;
  sessionToken?: string;
  region?: string;
  pathStyle?: boolean;
  bucket: string;
  /** Multipart part size in bytes (at least 5 MiB); default 16 MiB, held in memory per upload. */
  partSize?: number;
};

/** A `storages.MinioType` instance as configured. */
export type MinioInstanceOptions = { type: typeof MINIO_TYPE } & MinioDriverOptions;

/** Reads a MinIO instance's options; throws a `ConfigError` naming the bad one. */
export function parseMinioOptions(raw: RawOptions, field: string): MinioDriverOptions {
  const endPoint = requireString(raw, 'endPoint', field);
  const bucket = requireString(raw, 'bucket', field);
  const port = optionalInteger(raw, 'port', field, 1, 65535);
  const useSSL = optionalBoolean(raw, 'useSSL', field);
  const pathStyle = optionalBoolean(raw, 'pathStyle', field);
  const region = optionalString(raw, 'region', field);
  const accessKey = optionalString(raw, 'accessKey', field);
  const secretKey = optionalString(raw, 'secretKey', field);
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new ConfigError(`${field}.secretKey`, 'accessKey and secretKey go together');
  }
  const cloud = parseCloudOptions(raw, field);
  if (cloud.publicEndpoint && new URL(cloud.publicEndpoint).pathname !== '/') {
    // The minio client signs for a host and port; it has no base path.
    throw new ConfigError(`${field}.publicEndpoint`, 'must be scheme://host[:port], without a path');
  }
  return {
    endPoint,
    bucket,
    port,
    useSSL,
    pathStyle,
    region,
    accessKey,
    secretKey,
    sessionToken: optionalString(raw, 'sessionToken', field),
    partSize: optionalInteger(raw, 'partSize', field, 5 * MIB),
    ...cloud,
  };
}
