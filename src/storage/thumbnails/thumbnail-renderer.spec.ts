import sharp from 'sharp';
import { StorageErrorCode } from '../errors/storage.error';
import { assertImage, checkPixels, imageFormatOf, renderThumbnail } from './thumbnail-renderer';
import { thumbnailParams } from './thumbnail-params';

const made = (format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif', width = 30, height = 20) =>
  sharp({ create: { width, height, channels: 3, background: '#808080' } })
    .toFormat(format)
    .toBuffer();

describe('imageFormatOf', () => {
  it.each(['jpeg', 'png', 'webp', 'gif', 'tiff'] as const)('knows %s by its first bytes', async (format) => {
    expect(imageFormatOf(await made(format))).toBe(format);
  });

  it('knows AVIF as heif', async () => {
    expect(imageFormatOf(await made('avif'))).toBe('heif');
  });

  it.each([
    ['SVG', '<svg xmlns="http://www.w3.org/2000/svg"/>'],
    ['HTML', '<html>'],
    ['PDF', '%PDF-1.4'],
    ['text', 'hello'],
    ['empty', ''],
  ])('refuses %s with a 415', (_label, text) => {
    expect(imageFormatOf(Buffer.from(text))).toBeNull();
    expect(() => assertImage(Buffer.from(text), 'x')).toThrow(
      expect.objectContaining({ code: StorageErrorCode.UNSUPPORTED_MEDIA_TYPE }),
    );
  });
});

describe('checkPixels', () => {
  it('passes an image within the limit and refuses one past it with a 413', async () => {
    const image = await made('png', 100, 50);
    await expect(checkPixels(image, 5000)).resolves.toBe(true);
    await expect(checkPixels(image, 4999)).rejects.toMatchObject({ code: StorageErrorCode.TOO_LARGE });
  });

  it('reports false when the dimensions are not in the bytes given', async () => {
    await expect(checkPixels(Buffer.from([0xff, 0xd8, 0xff]), 100)).resolves.toBe(false);
  });
});

describe('renderThumbnail', () => {
  const options = { maxInputPixels: 1_000_000, quality: 80 };

  it('encodes as asked, and picks JPEG for opaque sources when left to itself', async () => {
    const source = await made('png', 300, 200);
    for (const [format, expected] of [
      ['webp', 'webp'],
      ['png', 'png'],
      [undefined, 'jpeg'],
    ] as const) {
      const params = thumbnailParams(40, 30, { format, anySize: true }, { maxWidth: 100, maxHeight: 100, presets: [] });
      const image = await renderThumbnail(source, params, options);
      const meta = await sharp(image.data).metadata();
      expect([image.format, image.contentType, meta.format, meta.width, meta.height]).toEqual([
        expected,
        `image/${expected}`,
        expected,
        40,
        30,
      ]);
    }
  });

  it('refuses an undecodable image with a 415', async () => {
    const truncated = (await made('jpeg', 300, 200)).subarray(0, 400);
    const params = thumbnailParams(
      undefined,
      undefined,
      { anySize: true },
      { maxWidth: 100, maxHeight: 200, presets: [] },
    );
    await expect(renderThumbnail(truncated, params, options)).rejects.toMatchObject({
      code: StorageErrorCode.UNSUPPORTED_MEDIA_TYPE,
    });
  });
});
