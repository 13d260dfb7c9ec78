import { StorageError } from '../errors/storage.error';
import type { ThumbnailSize } from '../options/preview.options';

export const THUMBNAIL_FITS = ['cover', 'contain', 'inside'] as const;
export const THUMBNAIL_FORMATS = ['webp', 'jpeg', 'png'] as const;
export type ThumbnailFit = (typeof THUMBNAIL_FITS)[number];
export type ThumbnailFormat = (typeof THUMBNAIL_FORMATS)[number];

/** The spec's default thumbnail size. */
export const DEFAULT_THUMBNAIL_SIZE = 120;

/** What a caller may ask beyond width and height. */
export interface ThumbnailRequestOptions {
  /** `cover` (default: fill the box, crop the overflow), `contain` (letterbox), `inside` (fit within). */
  fit?: string;
  /** `webp`, `jpeg` (`jpg`) or `png`; without it the format follows `accept`. */
  format?: string;
  /** The request's `Accept` header: WebP when it names `image/webp`. */
  accept?: string;
  /**
   * Render the size asked for even when it is not a preset (a caller with a token, or library
   * code that trusts its input). Without it, the size snaps to a preset (`snapToPreset`).
   */
  anySize?: boolean;
  /** Who asks (`ip:…`, `user:…`): renders are queued fairly between clients. Default `library`. */
  client?: string;
}

/** A validated request. `format: 'auto'` means JPEG, or PNG for a source with transparency. */
export interface ThumbnailParams {
  width: number;
  height: number;
  fit: ThumbnailFit;
  format: ThumbnailFormat | 'auto';
  /** True when `Accept` chose the format: the response must say `Vary: Accept`. */
  negotiated: boolean;
  /** Names the derivative among those of one source, e.g. `120x120-cover-webp`. */
  key: string;
}

/** Checks and completes a request; a bad or too large value is a 400 that says what is allowed. */
export function thumbnailParams(
  width: number | undefined,
  height: number | undefined,
  options: ThumbnailRequestOptions,
  limits: { maxWidth: number; maxHeight: number; presets: ThumbnailSize[] },
): ThumbnailParams {
  const asked = {
    width: dimension('width', width, limits.maxWidth),
    height: dimension('height', height, limits.maxHeight),
  };
  const { width: w, height: h } = options.anySize ? asked : snapToPreset(asked, limits.presets);
  const fit = (options.fit ?? 'cover').toLowerCase();
  if (!isOneOf(fit, THUMBNAIL_FITS)) {
    throw StorageError.invalidArgument(`fit must be one of ${THUMBNAIL_FITS.join(', ')}`);
  }
  const explicit = options.format === undefined || options.format === '' ? undefined : options.format.toLowerCase();
  const format = explicit === 'jpg' ? 'jpeg' : (explicit ?? (acceptsWebp(options.accept) ? 'webp' : 'auto'));
  if (format !== 'auto' && !isOneOf(format, THUMBNAIL_FORMATS)) {
    throw StorageError.invalidArgument(`format must be one of ${THUMBNAIL_FORMATS.join(', ')}`);
  }
  return { width: w, height: h, fit, format, negotiated: explicit === undefined, key: `${w}x${h}-${fit}-${format}` };
}

/**
 * The smallest preset (by area) at least as wide and as tall as `asked`, else the largest: a
 * client can always scale a larger image down without losing sharpness, never a smaller one up.
 * `presets` is sorted by area, smallest first, and never empty.
 */
export function snapToPreset(asked: ThumbnailSize, presets: ThumbnailSize[]): ThumbnailSize {
  return presets.find((p) => p.width >= asked.width && p.height >= asked.height) ?? presets[presets.length - 1];
}

/** True when `Accept` names `image/webp` with a non-zero quality. */
export function acceptsWebp(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'image/webp') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function dimension(name: string, value: number | undefined, max: number): number {
  if (value === undefined) return Math.min(DEFAULT_THUMBNAIL_SIZE, max);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw StorageError.invalidArgument(`${name} must be a whole number of pixels from 1 to ${max}`);
  }
  return value;
}

function isOneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}
