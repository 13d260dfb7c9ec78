import { ConfigError } from '../config/storage-config';

/** `preview` in the module options: the public, inline route. */
export interface PreviewOptions {
  /** `Cache-Control` of preview responses (default `public, no-cache`: revalidate by ETag, so expiry shows at once). */
  cacheControl?: string;
  /**
   * Content types served inline (lower case, no parameters; `type/*` allowed). Anything else,
   * and anything whose first bytes look like markup or script, is sent as an attachment.
   */
  inlineTypes?: string[];
}

/** `thumbnails` in the module options. */
export interface ThumbnailOptions {
  /** Largest `width` accepted (default 1024); past it, 400. */
  maxWidth?: number;
  /** Largest `height` accepted (default 1024); past it, 400. */
  maxHeight?: number;
  /** Largest source image, width x height of its first frame, read from the header before decoding (default 50 MP). */
  maxInputPixels?: number;
  /** Largest source file in bytes (default 64 MiB): a source is held in memory while it renders. */
  maxSourceBytes?: number;
  /** Thumbnails rendered at once (default 2); the others wait their turn. */
  concurrency?: number;
  /** Renders allowed to wait (default 200); past it, 503 so a burst cannot pile up sources in memory. */
  maxQueue?: number;
  /** `Cache-Control` of thumbnail responses (default `public, max-age=300`). */
  cacheControl?: string;
  /** Lossy output quality, 1-100 (default 80). */
  quality?: number;
  /**
   * The sizes anonymous callers get (default `[64, 120, 240, 480, 960]`; `120` x `120`, the
   * spec's default, is always one). A number is a square, a string `'WxH'` a rectangle. Another
   * size asked for without a token snaps to the smallest preset that covers it (else the largest).
   */
  presets?: Array<number | string>;
  /**
   * Derivatives stored per source object (default 16). Past it, a new size is rendered and served
   * but not stored, so that no request can make storage grow without bound.
   */
  maxDerivativesPerSource?: number;
  /** Renders one client (an IP, or a token's user) may have waiting (default 8); past it, 503. */
  maxQueuePerClient?: number;
}

export const DEFAULT_INLINE_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
  'application/pdf',
  'text/plain',
  'audio/*',
  'video/*',
];

export type ResolvedPreviewOptions = Required<PreviewOptions>;
export type ResolvedThumbnailOptions = Required<Omit<ThumbnailOptions, 'presets'>> & {
  /** Sorted by area, smallest first; 120 x 120 always among them. */
  presets: ThumbnailSize[];
};

export interface ThumbnailSize {
  width: number;
  height: number;
}

export const DEFAULT_THUMBNAIL_PRESETS = [64, 120, 240, 480, 960];

export function resolvePreviewOptions(options: PreviewOptions = {}): ResolvedPreviewOptions {
  const inlineTypes = (options.inlineTypes ?? DEFAULT_INLINE_TYPES).map((t) => String(t).trim().toLowerCase());
  for (const type of inlineTypes) {
    if (!/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/.test(type)) {
      throw new ConfigError('preview.inlineTypes', `'${type}' is not a content type like image/png or video/*`);
    }
  }
  return { cacheControl: options.cacheControl ?? 'public, no-cache', inlineTypes };
}

export function resolveThumbnailOptions(options: ThumbnailOptions = {}): ResolvedThumbnailOptions {
  const resolved = {
    maxWidth: options.maxWidth ?? 1024,
    maxHeight: options.maxHeight ?? 1024,
    maxInputPixels: options.maxInputPixels ?? 50_000_000,
    maxSourceBytes: options.maxSourceBytes ?? 64 * 1024 ** 2,
    concurrency: options.concurrency ?? 2,
    maxQueue: options.maxQueue ?? 200,
    cacheControl: options.cacheControl ?? 'public, max-age=300',
    quality: options.quality ?? 80,
    maxDerivativesPerSource: options.maxDerivativesPerSource ?? 16,
    maxQueuePerClient: options.maxQueuePerClient ?? 8,
  };
  for (const [field, value] of Object.entries(resolved)) {
    if (field === 'cacheControl') continue;
    const ok = Number.isSafeInteger(value) && (value as number) >= (field === 'maxQueue' ? 0 : 1);
    if (!ok || (field === 'quality' && (value as number) > 100)) {
      throw new ConfigError(
        `thumbnails.${field}`,
        `must be a whole number${field === 'quality' ? ' from 1 to 100' : ''}`,
      );
    }
  }
  // The default list is cut to the configured bounds; a given list must fit within them.
  const fitting = DEFAULT_THUMBNAIL_PRESETS.filter((n) => n <= resolved.maxWidth && n <= resolved.maxHeight);
  return { ...resolved, presets: resolvePresets(options.presets ?? fitting, resolved) };
}

function resolvePresets(given: unknown, limits: { maxWidth: number; maxHeight: number }): ThumbnailSize[] {
  if (!Array.isArray(given))
    throw new ConfigError('thumbnails.presets', "must be a list of sizes like 120 or '320x240'");
  const base = { width: Math.min(120, limits.maxWidth), height: Math.min(120, limits.maxHeight) };
  const sizes = new Map<string, ThumbnailSize>([[`${base.width}x${base.height}`, base]]);
  for (const entry of given as unknown[]) {
    const match = /^\s*(\d{1,6})\s*(?:x\s*(\d{1,6})\s*)?$/i.exec(String(entry));
    const width = Number(match?.[1]);
    const height = Number(match?.[2] ?? match?.[1]);
    if (!match || width < 1 || height < 1 || width > limits.maxWidth || height > limits.maxHeight) {
      throw new ConfigError(
        'thumbnails.presets',
        `'${String(entry).slice(0, 40)}' is not a size like 120 or '320x240' within maxWidth x maxHeight`,
      );
    }
    sizes.set(`${width}x${height}`, { width, height });
  }
  return [...sizes.values()].sort((a, b) => a.width * a.height - b.width * b.height || a.width - b.width);
}
