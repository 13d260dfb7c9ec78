import { Inject } from '@nestjs/common';
import { resolveLifecycleOptions, type ResolvedLifecycleOptions } from './lifecycle.options';
import {
  resolvePreviewOptions,
  resolveThumbnailOptions,
  type ResolvedPreviewOptions,
  type ResolvedThumbnailOptions,
} from './preview.options';
import { SIGNING_DEFAULTS } from './signing.options';
import { DEFAULTS, type StorageModuleOptions } from './storage.options';

/**
 * The module's options, parsed once at start-up into a new, typed object with every default
 * filled in (the given object is never mutated). Everything below the module injects this
 * (`@InjectStorageOptions()`), never the raw options.
 */
export interface ResolvedStorageOptions {
  /** The options as given (instances, tokens): for the registry and the auth guard. */
  readonly given: StorageModuleOptions;
  /** The HTTP API's route prefix, without slashes: record URLs and signed URLs point under it. */
  readonly routePrefix: string;
  readonly publicBaseUrl: string;
  readonly maxUploadSize: number;
  readonly maxBufferSize: number;
  readonly lifecycle: ResolvedLifecycleOptions;
  readonly preview: ResolvedPreviewOptions;
  readonly thumbnails: ResolvedThumbnailOptions;
  readonly signing: { secret: string | undefined; ttlSeconds: number };
}

export const STORAGE_OPTIONS = Symbol('STORAGE_OPTIONS');

/** Injects the resolved options (`ResolvedStorageOptions`). */
export const InjectStorageOptions = (): ParameterDecorator => Inject(STORAGE_OPTIONS);

/** Throws a `ConfigError` naming the field when a value is wrong. */
export function resolveStorageOptions(given: StorageModuleOptions, routePrefix: string): ResolvedStorageOptions {
  return {
    given,
    routePrefix,
    publicBaseUrl: (given.publicBaseUrl ?? DEFAULTS.publicBaseUrl).replace(/\/+$/, ''),
    maxUploadSize: given.maxUploadSize ?? DEFAULTS.maxUploadSize,
    maxBufferSize: given.maxBufferSize ?? DEFAULTS.maxBufferSize,
    lifecycle: resolveLifecycleOptions(given.lifecycle),
    preview: resolvePreviewOptions(given.preview),
    thumbnails: resolveThumbnailOptions(given.thumbnails),
    signing: {
      secret: given.signing?.secret,
      ttlSeconds: given.signing?.ttlSeconds ?? SIGNING_DEFAULTS.ttlSeconds,
    },
  };
}
