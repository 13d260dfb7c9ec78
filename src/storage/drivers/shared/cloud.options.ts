import { optionalBoolean, optionalHttpUrl, optionalInteger, type RawOptions } from '../../config/option-readers';

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
   * The longest wait to connect and for the backend to answer, in ms (default 10 s); calls that
   * answer with metadata (stat, exists, delete, list pages, opening a get) are bounded by it as a
   * whole, retries included.
   */
  timeoutMs?: number;
  /** Create the bucket (container) at start-up when it is missing: tests and dev setups only. */
  createBucket?: boolean;
};

/** `publicUrl`, `timeoutMs` and `createBucket`, which every cloud type takes. */
export function parseCloudOptions(raw: RawOptions, field: string): CloudDriverOptions {
  return {
    publicUrl: optionalHttpUrl(raw, 'publicUrl', field),
    timeoutMs: optionalInteger(raw, 'timeoutMs', field, 100),
    createBucket: optionalBoolean(raw, 'createBucket', field),
  };
}
