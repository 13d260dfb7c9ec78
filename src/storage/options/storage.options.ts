import type { StorageConfig } from '../config/storage-config';
import type { ApiTokenConfig } from './api-tokens.options';
import type { LifecycleOptions } from './lifecycle.options';
import type { PreviewOptions, ThumbnailOptions } from './preview.options';
import type { RateLimitOptions } from './rate-limit.options';
import type { SigningOptions } from './signing.options';
import type { CorsOptions } from './cors.options';
import type { UploadLimitOptions } from './upload-limits.options';

/**
 * Makes a record's `url` when the host wants its own (its own routes, a CDN in front of them).
 * `publicUrl` is the backend's own URL of the object, when the instance has one.
 */
export type RecordUrlBuilder = (file: {
  storage: string;
  key: string;
  objectKey: string;
  publicUrl: string | null;
}) => string;

/**
 * The module's options with storage instances as loose records: what configuration files give.
 * Hosts write `StorageModuleOptions`, whose instances are typed by `type`.
 */
export interface StorageOptions extends StorageConfig, UploadLimitOptions {
  /**
   * The absolute URL clients reach this application at (`https://files.example.com`): record
   * `url`s and local signed upload URLs point under it. Required while the module serves its
   * HTTP API; with `http: false` URLs come from the backend (`publicUrl`) or `urlBuilder`.
   */
  publicBaseUrl?: string;
  /** Builds every record `url` instead of the rules above. */
  urlBuilder?: RecordUrlBuilder;
  /** Largest upload accepted, in bytes (default 5 GiB). Past it: 413 `E_TOO_LARGE`. */
  maxUploadSize?: number;
  /** Largest file `download()` will return as one Buffer (default 32 MiB); use `downloadStream` past it. */
  maxBufferSize?: number;
  /**
   * Bearer tokens for the default guard, by user name (the name becomes `uploadUser`): a bare
   * token has full access; `{ token, scopes, storages, prefix }` limits it (README: scoped tokens).
   */
  apiTokens?: Record<string, ApiTokenConfig>;
  /** Folder relative `root`s are resolved against (default the working directory). */
  baseDir?: string;
  /** Public preview: its `Cache-Control` and the content types served inline. */
  preview?: PreviewOptions;
  /** Thumbnails: size bounds, presets, source pixel and byte limits, renders at once, `Cache-Control`. */
  thumbnails?: ThumbnailOptions;
  /** Per-client limits on the public routes (preview, thumbnails); `false` turns them off. */
  rateLimit?: RateLimitOptions | false;
  /** Expiry sweeper, orphan reconciliation and upload leases. */
  lifecycle?: LifecycleOptions;
  /** Signed direct-upload URLs (`getSignUrl`, `POST /storage/sign`). */
  signing?: SigningOptions;
  /** Which page origins may call the routes from a browser (`CORS_ORIGINS`); off by default. */
  cors?: CorsOptions | false;
}

export const DEFAULTS = {
  maxUploadSize: 5 * 1024 ** 3,
  maxBufferSize: 32 * 1024 ** 2,
};
