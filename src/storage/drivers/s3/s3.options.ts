import {
  nestedOptions,
  optionalBoolean,
  optionalInteger,
  optionalString,
  type RawOptions,
  requireString,
} from '../../config/option-readers';
import { type CloudDriverOptions, parseCloudOptions } from '../shared/cloud.options';
import { MIB } from '../shared/multipart';

export const S3_TYPE = 'storages.S3Type';

/** The SDK's own client options (same names), plus the bucket and our knobs. */
export type S3DriverOptions = CloudDriverOptions & {
  bucket: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Multipart part size in bytes (at least 5 MiB); default 8 MiB. */
  partSize?: number;
  /** Parts uploaded at once; default 4 (memory: partSize x queueSize). */
  queueSize?: number;
};

/** A `storages.S3Type` instance as configured. */
export type S3InstanceOptions = { type: typeof S3_TYPE } & S3DriverOptions;

/** Reads an S3 instance's options; throws a `ConfigError` naming the bad one. */
export function parseS3Options(raw: RawOptions, field: string): S3DriverOptions {
  return {
    bucket: requireString(raw, 'bucket', field),
    region: optionalString(raw, 'region', field),
    endpoint: optionalString(raw, 'endpoint', field),
    forcePathStyle: optionalBoolean(raw, 'forcePathStyle', field),
    credentials: raw.credentials === undefined ? undefined : parseCredentials(raw, `${field}.credentials`),
    partSize: optionalInteger(raw, 'partSize', field, 5 * MIB),
    queueSize: optionalInteger(raw, 'queueSize', field),
    ...parseCloudOptions(raw, field),
  };
}

function parseCredentials(raw: RawOptions, field: string): S3DriverOptions['credentials'] {
  const credentials = nestedOptions(raw, 'credentials');
  return {
    accessKeyId: requireString(credentials, 'accessKeyId', field),
    secretAccessKey: requireString(credentials, 'secretAccessKey', field),
    sessionToken: optionalString(credentials, 'sessionToken', field),
  };
}
