import type { StorageConfig } from '../config/storage-config';
import type { LifecycleOptions } from './lifecycle.options';
import type { PreviewOptions, ThumbnailOptions } from './preview.options';
import type { SigningOptions } from './signing.options';

export interface StorageModuleOptions extends StorageConfig {
  /** Base URL of this service as clients reach it; record `url`s point here. */
  publicBaseUrl?: string;
  /** Largest upload accepted, in bytes (default 5 GiB). Past it: 413 `E_TOO_LARGE`. */
  maxUploadSize?: number;
  /** Largest file `download()` will return as one Buffer (default 32 MiB); use `downloadStream` past it. */
  maxBufferSize?: number;
  /** Bearer tokens for the default guard, by user name (the name becomes `uploadUser`). */
  apiTokens?: Record<string, string>;
  /** Folder relative `root`s are resolved against (default the working directory). */
  baseDir?: string;
  /** Public preview: its `Cache-Control` and the content types served inline. */
  preview?: PreviewOptions;
  /** Thumbnails: size bounds, source pixel and byte limits, renders at once, `Cache-Control`. */
  thumbnails?: ThumbnailOptions;
  /** Expiry sweeper, orphan reconciliation and upload leases. */
  lifecycle?: LifecycleOptions;
  /** Signed direct-upload URLs (`getSignUrl`, `POST /storage/sign`). */
  signing?: SigningOptions;
}

export const DEFAULTS = {
  maxUploadSize: 5 * 1024 ** 3,
  maxBufferSize: 32 * 1024 ** 2,
  publicBaseUrl: 'http://localhost:3000',
};
