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
export type ResolvedThumbnailOptions = Required<ThumbnailOptions>;

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
  return resolved;
}
