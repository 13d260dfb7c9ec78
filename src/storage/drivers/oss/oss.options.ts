import { isIP } from 'node:net';
import { ConfigError } from '../../config/storage-config';
import {
  optionalBoolean,
  optionalInteger,
  optionalString,
  type RawOptions,
  requireString,
} from '../../config/option-readers';
import { type CloudDriverOptions, parseCloudOptions } from '../shared/cloud.options';

export const OSS_TYPE = 'storages.OssType';

/** `ali-oss` client options (same names), plus the bucket and our knobs. */
export type OssDriverOptions = CloudDriverOptions & {
  accessKeyId: string;
  accessKeySecret: string;
  stsToken?: string;
  bucket: string;
  region?: string;
  endpoint?: string;
  secure?: boolean;
  internal?: boolean;
  /** `endpoint` is a custom domain bound to the bucket. */
  cname?: boolean;
  /** Path-style requests (`/bucket/key`) on `endpoint`, for OSS-compatible servers. */
  sldEnable?: boolean;
  /**
   * The longest a server-side copy may take; default 10 min. Each request of a put (a part
   * included) is bounded by `timeoutMs`: raise it, or lower `partSize`, on a slow link.
   */
  transferTimeoutMs?: number;
  /** Multipart part size in bytes (at least 100 KiB); default 8 MiB, held in memory per upload. */
  partSize?: number;
};

/** A `storages.OssType` instance as configured. */
export type OssInstanceOptions = { type: typeof OSS_TYPE } & OssDriverOptions;

/** Reads an Aliyun OSS instance's options; throws a `ConfigError` naming the bad one. */
export function parseOssOptions(raw: RawOptions, field: string): OssDriverOptions {
  const bucket = requireString(raw, 'bucket', field);
  const accessKeyId = requireString(raw, 'accessKeyId', field);
  const accessKeySecret = requireString(raw, 'accessKeySecret', field);
  const region = optionalString(raw, 'region', field);
  const endpoint = optionalString(raw, 'endpoint', field);
  if (!region && (!endpoint || isIP(hostOf(endpoint)))) {
    // With an IP endpoint ali-oss sends Host: <bucket>.<region's host>, so it needs the region too.
    throw new ConfigError(
      `${field}.region`,
      'a region (e.g. oss-cn-beijing) is required unless endpoint is a host name',
    );
  }
  const cloud = parseCloudOptions(raw, field);
  if (cloud.publicEndpoint && isIP(hostOf(cloud.publicEndpoint))) {
    // Signed URLs are made by a client on this endpoint, and ali-oss refuses to sign for an IP.
    throw new ConfigError(
      `${field}.publicEndpoint`,
      'must name a host, not an IP address (ali-oss cannot sign for one)',
    );
  }
  return {
    bucket,
    accessKeyId,
    accessKeySecret,
    stsToken: optionalString(raw, 'stsToken', field),
    region,
    endpoint,
    secure: optionalBoolean(raw, 'secure', field),
    internal: optionalBoolean(raw, 'internal', field),
    cname: optionalBoolean(raw, 'cname', field),
    sldEnable: optionalBoolean(raw, 'sldEnable', field),
    transferTimeoutMs: optionalInteger(raw, 'transferTimeoutMs', field, 100),
    partSize: optionalInteger(raw, 'partSize', field, 100 * 1024),
    ...cloud,
  };
}

/** The host name or IP of an endpoint written with or without a scheme ('' when unparsable). */
function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}
