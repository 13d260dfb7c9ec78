import { StorageErrorCode } from '../errors/storage.error';
import { acceptsWebp, thumbnailParams } from './thumbnail-params';

const limits = { maxWidth: 1024, maxHeight: 800 };

describe('thumbnailParams', () => {
  it('defaults to 120 x 120 cover, JPEG/PNG by source unless Accept names WebP', () => {
    expect(thumbnailParams(undefined, undefined, {}, limits)).toEqual({
      width: 120,
      height: 120,
      fit: 'cover',
      format: 'auto',
      negotiated: true,
      key: '120x120-cover-auto',
    });
    expect(thumbnailParams(300, 200, { accept: 'image/webp,*/*' }, limits)).toMatchObject({
      format: 'webp',
      negotiated: true,
      key: '300x200-cover-webp',
    });
  });

  it.each([
    [{ fit: 'CONTAIN', format: 'JPG' }, '120x120-contain-jpeg'],
    [{ fit: 'inside', format: 'png', accept: 'image/webp' }, '120x120-inside-png'],
    [{ format: 'webp' }, '120x120-cover-webp'],
    [{ format: '' }, '120x120-cover-auto'],
  ])('%j → %s', (options, key) => {
    const params = thumbnailParams(undefined, undefined, options, limits);
    expect(params.key).toBe(key);
    expect(params.negotiated).toBe(options.format === undefined || options.format === '');
  });

  it.each([
    ['width 0', 0, 10, {}],
    ['negative', -1, 10, {}],
    ['fraction', 1.5, 10, {}],
    ['NaN', Number.NaN, 10, {}],
    ['past max width', 1025, 10, {}],
    ['past max height', 10, 801, {}],
    ['unknown fit', 10, 10, { fit: 'fill' }],
    ['unknown format', 10, 10, { format: 'gif' }],
  ])('%s → 400', (_label, width, height, options) => {
    expect(() => thumbnailParams(width, height, options, limits)).toThrow(
      expect.objectContaining({ code: StorageErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('accepts the maxima exactly', () => {
    expect(thumbnailParams(1024, 800, {}, limits).key).toBe('1024x800-cover-auto');
  });
});

describe('acceptsWebp', () => {
  it.each([
    ['image/avif,image/webp,image/apng,*/*;q=0.8', true],
    ['IMAGE/WEBP', true],
    ['image/webp;q=0.5', true],
    ['image/webp;q=0', false],
    ['image/*', false],
    ['*/*', false],
    ['', false],
    [undefined, false],
  ])('%j → %s', (accept, expected) => expect(acceptsWebp(accept)).toBe(expected));
});
