import { Inject } from '@nestjs/common';
import { resolveLifecycleOptions, type ResolvedLifecycleOptions } from './lifecycle.options';
import {
  resolvePreviewOptions,
  resolveThumbnailOptions,
  type ResolvedPreviewOptions,
  type ResolvedThumbnailOptions,
} from './preview.options';
import { resolveRateLimitOptions, type ResolvedRateLimitOptions } from './rate-limit.options';
import { SIGNING_DEFAULTS } from './signing.options';
import { resolveCorsOptions, type ResolvedCorsOptions } from './cors.options';
import { parseApiTokens, type ResolvedApiToken } from './api-tokens.options';
import { ConfigError } from '../config/storage-config';
import { DEFAULTS, type RecordUrlBuilder, type StorageOptions } from './storage.options';
import { resolveUploadLimits, type ResolvedUploadLimits } from './upload-limits.options';

/**
 * The module's options, parsed once at start-up into a new, typed object with every default
 * filled in (the given object is never mutated). Everything below the module injects this
 * (`@InjectStorageOptions()`), never the raw options.
 */
export interface ResolvedStorageOptions {
  /** The options as given (instances, tokens): for the registry and the auth guard. */
  readonly given: StorageOptions;
  /** The HTTP API's route prefix, without slashes: record URLs and signed URLs point under it. */
  readonly routePrefix: string;
  /** Whether the module serves its HTTP API; without it, no URL may point at its routes. */
  readonly http: boolean;
  /** Without a trailing slash; set whenever `http` is. */
  readonly publicBaseUrl: string | undefined;
  readonly urlBuilder: RecordUrlBuilder | undefined;
  readonly maxUploadSize: number;
  readonly maxBufferSize: number;
  /** Idle timeout and concurrency caps of uploads in flight. */
  readonly uploads: ResolvedUploadLimits;
  readonly lifecycle: ResolvedLifecycleOptions;
  readonly preview: ResolvedPreviewOptions;
  readonly thumbnails: ResolvedThumbnailOptions;
  readonly rateLimit: ResolvedRateLimitOptions;
  readonly signing: { secret: string | undefined; ttlSeconds: number };
  /** The default guard's tokens, each with its limits. */
  readonly apiTokens: readonly ResolvedApiToken[];
  /** Cross-origin access to the routes; null: off. */
  readonly cors: ResolvedCorsOptions | null;
}

export const STORAGE_OPTIONS = Symbol('STORAGE_OPTIONS');

/** Injects the resolved options (`ResolvedStorageOptions`). */
export const InjectStorageOptions = (): ParameterDecorator => Inject(STORAGE_OPTIONS);

/** Throws a `ConfigError` naming the field when a value is wrong. */
export function resolveStorageOptions(
  given: StorageOptions,
  served: { routePrefix: string; http: boolean },
): ResolvedStorageOptions {
  return {
    given,
    routePrefix: served.routePrefix,
    http: served.http,
    publicBaseUrl: resolvePublicBaseUrl(given.publicBaseUrl, served.http),
    urlBuilder: given.urlBuilder,
    maxUploadSize: given.maxUploadSize ?? DEFAULTS.maxUploadSize,
    maxBufferSize: given.maxBufferSize ?? DEFAULTS.maxBufferSize,
    uploads: resolveUploadLimits(given),
    lifecycle: resolveLifecycleOptions(given.lifecycle),
    preview: resolvePreviewOptions(given.preview),
    thumbnails: resolveThumbnailOptions(given.thumbnails),
    rateLimit: resolveRateLimitOptions(given.rateLimit),
    signing: {
      secret: given.signing?.secret,
      ttlSeconds: given.signing?.ttlSeconds ?? SIGNING_DEFAULTS.ttlSeconds,
    },
    apiTokens: parseApiTokens(given.apiTokens, Object.keys(given.storages ?? {})),
    cors: resolveCorsOptions(given.cors),
  };
}

function resolvePublicBaseUrl(raw: unknown, http: boolean): string | undefined {
  if (raw === undefined || raw === null || raw === '') {
    if (!http) return undefined;
    throw new ConfigError(
      'publicBaseUrl',
      'required while the module serves its HTTP API: the absolute URL clients reach this application at, ' +
        "e.g. 'https://files.example.com' (record URLs and signed upload URLs point there)",
    );
  }
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new ConfigError('publicBaseUrl', `'${String(raw)}' is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('publicBaseUrl', `'${String(raw)}' must be an http(s) URL`);
  }
  if (url.search || url.hash) throw new ConfigError('publicBaseUrl', 'must not have a query or a fragment');
  return url.href.replace(/\/+$/, '');
}
