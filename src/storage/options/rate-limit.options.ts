import { ConfigError } from '../config/storage-config';

/** Requests one client may make to a route group within a window. */
export interface RouteRateLimit {
  limit: number;
  ttlSeconds: number;
}

/**
 * `rateLimit` in the module options: per-client limits on the public routes (preview and
 * thumbnails). A client is its IP (Express `req.ip`: set `trust proxy` behind a proxy); callers
 * that send a valid token are not limited here.
 */
export interface RateLimitOptions {
  /** `GET`/`HEAD /preview/...` (default 300 per 60 s); `false`: no limit. */
  preview?: Partial<RouteRateLimit> | false;
  /** `GET`/`HEAD /thumbnail/...` (default 120 per 60 s); `false`: no limit. */
  thumbnail?: Partial<RouteRateLimit> | false;
  /**
   * A Redis URL (`redis://host:6379/0`) to keep the counts in, so that replicas share them (needs
   * the `ioredis` package); default: in this process's memory.
   */
  redis?: string;
  /** Prefix of the Redis keys (default `storage:ratelimit:`). */
  keyPrefix?: string;
}

export interface ResolvedRateLimitOptions {
  preview: RouteRateLimit | false;
  thumbnail: RouteRateLimit | false;
  redis: string | undefined;
  keyPrefix: string;
}

const DEFAULT_LIMITS = { preview: { limit: 300, ttlSeconds: 60 }, thumbnail: { limit: 120, ttlSeconds: 60 } };

/** `false` turns every public limit off. */
export function resolveRateLimitOptions(options: RateLimitOptions | false = {}): ResolvedRateLimitOptions {
  const given = options === false ? { preview: false as const, thumbnail: false as const } : options;
  if (given.redis !== undefined && !/^rediss?:\/\/\S+$/.test(String(given.redis))) {
    throw new ConfigError('rateLimit.redis', 'must be a URL like redis://127.0.0.1:6379/0');
  }
  return {
    preview: routeLimit('preview', given.preview),
    thumbnail: routeLimit('thumbnail', given.thumbnail),
    redis: given.redis || undefined,
    keyPrefix: given.keyPrefix ?? 'storage:ratelimit:',
  };
}

function routeLimit(route: 'preview' | 'thumbnail', given: Partial<RouteRateLimit> | false | undefined) {
  if (given === false) return false;
  const limit = { ...DEFAULT_LIMITS[route], ...given };
  for (const [field, value] of Object.entries(limit)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigError(`rateLimit.${route}.${field}`, 'must be a whole number from 1');
    }
  }
  return limit;
}
