import { ConfigError } from '../config/storage-config';

/**
 * Cross-origin access to the module's routes, per registration: which page origins may call
 * them from a browser. Credentials (cookies) are never allowed: the API takes a bearer token.
 */
export interface CorsOptions {
  /** Exact origins (`https://app.example.com`), or `'*'` for any. */
  origins: string[] | '*';
  /** Seconds a browser may cache a preflight answer; 600 by default. */
  maxAgeSeconds?: number;
}

export interface ResolvedCorsOptions {
  origins: ReadonlySet<string> | '*';
  maxAgeSeconds: number;
}

/** `false` (or absent) turns CORS off: no header is added and preflights go unanswered. */
export function resolveCorsOptions(given: CorsOptions | false | undefined): ResolvedCorsOptions | null {
  if (!given) return null;
  const { origins } = given;
  if (origins !== '*' && (!Array.isArray(origins) || origins.some((o) => !isOrigin(o)))) {
    throw new ConfigError('cors.origins', "must be '*' or a list of origins such as https://app.example.com");
  }
  const maxAgeSeconds = given.maxAgeSeconds ?? 600;
  if (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 0) {
    throw new ConfigError('cors.maxAgeSeconds', 'must be a whole number of seconds');
  }
  return { origins: origins === '*' ? '*' : new Set(origins), maxAgeSeconds };
}

/** `CORS_ORIGINS`: `*` or comma-separated origins; unset keeps the configuration files' `cors`. */
export function corsFromEnv(
  value: string | undefined,
  files: CorsOptions | false | undefined,
): CorsOptions | false | undefined {
  if (value === undefined || value.trim() === '') return files;
  const trimmed = value.trim();
  return {
    ...(files || {}),
    origins:
      trimmed === '*'
        ? '*'
        : trimmed
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
  };
}

function isOrigin(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.origin === value && (url.protocol === 'http:' || url.protocol === 'https:');
  } catch {
    return false;
  }
}
