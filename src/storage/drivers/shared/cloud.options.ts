import { ConfigError } from '../../config/storage-config';
import {
  optionalBoolean,
  optionalHttpUrl,
  optionalInteger,
  optionalString,
  type RawOptions,
} from '../../config/option-readers';

/** Default for every cloud driver's `timeoutMs`. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Options every cloud driver takes besides its SDK's own client options. Driver options are type
 * aliases, not interfaces, so that a typed instance fits `StorageInstanceConfig`'s index signature.
 */
export type CloudDriverOptions = {
  /** Base URL objects are publicly served from (a CDN), if any. */
  publicUrl?: string;
  /**
   * The address clients reach this backend at, when it differs from the one the service uses
   * (`http://localhost:9000` for a MinIO the service reaches as `http://minio:9000`; a public
   * endpoint in front of a private one). Every URL the driver signs for a client (signed uploads)
   * is made for this address and is valid there; the service's own calls keep using the SDK
   * options. It is read as the SDK's own endpoint would be: S3 `endpoint`; MinIO
   * `scheme://endPoint:port` (no path); OSS `endpoint`; Azure the blob endpoint, with the account
   * segment for path-style emulator URLs (`http://localhost:10000/devstoreaccount1`).
   */
  publicEndpoint?: string;
  /**
   * The longest wait to connect and for the backend to answer, in ms (default 10 s); calls that
   * answer with metadata (stat, exists, delete, list pages, opening a get) are bounded by it as a
   * whole, retries included.
   */
  timeoutMs?: number;
  /** Create the bucket (container) at start-up when it is missing: tests and dev setups only. */
  createBucket?: boolean;
};

/** `publicUrl`, `publicEndpoint`, `timeoutMs` and `createBucket`, which every cloud type takes. */
export function parseCloudOptions(raw: RawOptions, field: string): CloudDriverOptions {
  return {
    publicUrl: optionalHttpUrl(raw, 'publicUrl', field),
    publicEndpoint: optionalEndpoint(raw, 'publicEndpoint', field),
    timeoutMs: optionalInteger(raw, 'timeoutMs', field, 100),
    createBucket: optionalBoolean(raw, 'createBucket', field),
  };
}

/**
 * An http(s) base URL a client can be sent to: no credentials, query or fragment (a signed URL
 * brings its own query). Returned without a trailing slash.
 */
function optionalEndpoint(raw: RawOptions, key: string, field: string): string | undefined {
  const value = optionalString(raw, key, field);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${field}.${key}`, 'must be an http(s) URL such as http://localhost:9000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${field}.${key}`, 'must be an http(s) URL such as http://localhost:9000');
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError(`${field}.${key}`, 'must be scheme://host[:port][/path], without credentials, query or #');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
