import { StorageErrorCode } from '../errors/storage.error';
import { resolveThumbnailOptions } from '../options/preview.options';
import { acceptsWebp, snapToPreset, thumbnailParams } from './thumbnail-params';

const { presets } = resolveThumbnailOptions({ maxWidth: 1024, maxHeight: 800, presets: [64, 240, '320x200'] });
const limits = { maxWidth: 1024, maxHeight: 800, presets };

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
    expect(thumbnailParams(300, 200, { accept: 'image/webp,*/*', anySize: true }, limits)).toMatchObject({
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
    expect(thumbnailParams(1024, 800, { anySize: true }, limits).key).toBe('1024x800-cover-auto');
  });

  it('snaps a size that is not a preset unless anySize is set', () => {
    expect(thumbnailParams(300, 200, { format: 'png' }, limits).key).toBe('320x200-cover-png');
    expect(thumbnailParams(1024, 800, {}, limits).key).toBe('320x200-cover-auto');
    expect(thumbnailParams(64, 64, {}, limits).key).toBe('64x64-cover-auto');
    expect(thumbnailParams(17, 93, { anySize: true }, limits).key).toBe('17x93-cover-auto');
  });
});

describe('snapToPreset', () => {
  // presets by area: 64x64 (4096), 120x120 (14400, always there), 320x200 (64000), 240x240 (57600)
  it.each([
    [{ width: 1, height: 1 }, '64x64'],
    [{ width: 64, height: 65 }, '120x120'],
    [{ width: 121, height: 100 }, '240x240'],
    [{ width: 300, height: 10 }, '320x200'],
    [{ width: 241, height: 201 }, '320x200'],
    [{ width: 1000, height: 1000 }, '320x200'],
  ])('%j → %s', (asked, expected) => {
    const size = snapToPreset(asked, presets);
    expect(`${size.width}x${size.height}`).toBe(expected);
  });

  it('sorts presets by area and always includes 120 x 120', () => {
    expect(presets.map((p) => `${p.width}x${p.height}`)).toEqual(['64x64', '120x120', '240x240', '320x200']);
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
