import { isPlainObject } from './load-config';
import { ConfigError } from './storage-config';

/** An options object as configuration holds it: YAML, JSON or a host's `forRoot`, not yet checked. */
export type RawOptions = Readonly<Record<string, unknown>>;

/**
 * Readers that check one option of `raw` and return it typed, throwing a `ConfigError` that names
 * `${field}.${key}`. They never change `raw`: each driver builds a new resolved object from them.
 */
export function requireString(raw: RawOptions, key: string, field: string): string {
  const value = raw[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`${field}.${key}`, 'a non-empty string is required');
  }
  return value;
}

export function optionalString(raw: RawOptions, key: string, field: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ConfigError(`${field}.${key}`, 'must be a string');
  return value;
}

/** A boolean; `'true'`/`'false'` strings (what `${VAR}` interpolation yields) are read as booleans. */
export function optionalBoolean(raw: RawOptions, key: string, field: string): boolean | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  if (typeof value !== 'boolean') throw new ConfigError(`${field}.${key}`, 'must be true or false');
  return value;
}

/**
 * A whole number from `min` (to `max`) (port numbers, timeouts, part sizes). A string of digits
 * (from `${VAR}` interpolation) is read as its number.
 */
export function optionalInteger(
  raw: RawOptions,
  key: string,
  field: string,
  min = 1,
  max?: number,
): number | undefined {
  let value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) value = Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    throw new ConfigError(`${field}.${key}`, `must be a whole number from ${min}${max ? ` to ${max}` : ''}`);
  }
  return value;
}

/** An http(s) URL, such as `publicUrl`. */
export function optionalHttpUrl(raw: RawOptions, key: string, field: string): string | undefined {
  const value = optionalString(raw, key, field);
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new ConfigError(`${field}.${key}`, 'must be an http(s) URL');
  }
  return value;
}

/** A nested options object (S3 `credentials`, Azure `retryOptions`); anything else reads as `{}`. */
export function nestedOptions(raw: RawOptions, key: string): RawOptions {
  const value = raw[key];
  return isPlainObject(value) ? value : {};
}
