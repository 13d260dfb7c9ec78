import type SharpFunction from 'sharp';
import { quoteInput, StorageError, StorageErrorCode } from '../errors/storage.error';
import type { ThumbnailFormat, ThumbnailParams } from './thumbnail-params';

let loadedSharp: typeof SharpFunction | undefined;

/**
 * sharp, loaded on the first thumbnail: it is an optional peer dependency, so a host that never
 * makes thumbnails need not install it. Missing, it is a 501 that names the package.
 */
function sharp(...args: Parameters<typeof SharpFunction>): ReturnType<typeof SharpFunction> {
  if (!loadedSharp) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loadedSharp = require('sharp') as typeof SharpFunction;
    } catch (err) {
      throw new StorageError(
        StorageErrorCode.NOT_IMPLEMENTED,
        'thumbnails need the sharp package, which is not installed here; install with: npm install sharp',
        {},
        { cause: err },
      );
    }
  }
  return loadedSharp(...args);
}

/** Enough of a file to hold any image header sharp needs to read the dimensions. */
export const HEADER_BYTES = 64 * 1024;

const TRANSPARENT = { r: 255, g: 255, b: 255, alpha: 0 };
const CONTENT_TYPES: Record<ThumbnailFormat, string> = { webp: 'image/webp', jpeg: 'image/jpeg', png: 'image/png' };

export interface RenderedImage {
  data: Buffer;
  format: ThumbnailFormat;
  contentType: string;
}

/**
 * The raster format the first bytes announce, or null. Only formats sharp decodes without a
 * document engine: SVG (and so scripts, fonts, external references) never reaches a decoder.
 */
export function imageFormatOf(head: Buffer): string | null {
  const ascii = (from: number, to: number) => head.subarray(from, to).toString('latin1');
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'II*\x00' || ascii(0, 4) === 'MM\x00*') return 'tiff';
  if (ascii(4, 8) === 'ftyp' && /^(avif|avis|heic|heix|mif1|msf1)$/.test(ascii(8, 12))) return 'heif';
  return null;
}

/** Refuses a non-image with a 415 that says what can be made into a thumbnail. */
export function assertImage(head: Buffer, name: string): void {
  if (imageFormatOf(head) === null) {
    throw new StorageError(
      StorageErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `${quoteInput(name)} is not an image a thumbnail can be made of (JPEG, PNG, GIF, WebP, AVIF/HEIF, TIFF)`,
      { key: name },
    );
  }
}

/**
 * Reads the dimensions from the header alone (no pixel is decoded) and refuses, with a 413,
 * an image whose first frame has more than `maxPixels` pixels: a small file can declare a canvas
 * that would take gigabytes to decode. Returns false when `input` ends before the dimensions.
 */
export async function checkPixels(input: Buffer, maxPixels: number): Promise<boolean> {
  const meta = await sharp(input, { limitInputPixels: false })
    .metadata()
    .catch(() => null);
  if (!meta?.width || !meta.height) return false;
  const height = meta.pageHeight ?? meta.height;
  if (meta.width * height > maxPixels) {
    throw new StorageError(
      StorageErrorCode.TOO_LARGE,
      `the image is ${meta.width} x ${height} pixels; thumbnails are made of images up to ${maxPixels} pixels`,
      { width: meta.width, height, maxPixels },
    );
  }
  return true;
}

/**
 * The thumbnail of a whole image file: EXIF orientation applied, first frame only, resized by
 * `fit`, encoded as asked (`auto`: PNG for a source with transparency, else JPEG). sharp's own
 * `limitInputPixels` backs up `checkPixels`. A file that does not decode is a 415.
 */
export async function renderThumbnail(
  input: Buffer,
  params: ThumbnailParams,
  options: { maxInputPixels: number; quality: number },
): Promise<RenderedImage> {
  if (!(await checkPixels(input, options.maxInputPixels))) throw undecodable();
  const source = sharp(input, { limitInputPixels: options.maxInputPixels, pages: 1, page: 0, failOn: 'error' });
  const format = params.format === 'auto' ? ((await source.metadata()).hasAlpha ? 'png' : 'jpeg') : params.format;
  let image = source
    .autoOrient()
    .resize({ width: params.width, height: params.height, fit: params.fit, background: TRANSPARENT });
  if (format === 'jpeg') image = image.flatten({ background: '#ffffff' }).jpeg({ quality: options.quality });
  else if (format === 'webp') image = image.webp({ quality: options.quality });
  else image = image.png();
  try {
    return { data: await image.toBuffer(), format, contentType: CONTENT_TYPES[format] };
  } catch (err) {
    throw undecodable(err);
  }
}

function undecodable(cause?: unknown): StorageError {
  return new StorageError(StorageErrorCode.UNSUPPORTED_MEDIA_TYPE, 'the image could not be decoded', {}, { cause });
}
