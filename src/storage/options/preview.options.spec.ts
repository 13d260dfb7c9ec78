import { ConfigError } from '../config/storage-config';
import { resolvePreviewOptions, resolveThumbnailOptions } from './preview.options';

describe('preview and thumbnail options', () => {
  it('fills in the defaults', () => {
    expect(resolvePreviewOptions()).toMatchObject({ cacheControl: 'public, no-cache' });
    expect(resolvePreviewOptions().inlineTypes).toContain('image/png');
    expect(resolveThumbnailOptions()).toEqual({
      maxWidth: 1024,
      maxHeight: 1024,
      maxInputPixels: 50_000_000,
      maxSourceBytes: 64 * 1024 ** 2,
      concurrency: 2,
      maxQueue: 200,
      cacheControl: 'public, max-age=300',
      quality: 80,
    });
  });

  it('keeps what is given, lower-casing types', () => {
    expect(resolvePreviewOptions({ inlineTypes: ['Image/PNG', 'video/*'] }).inlineTypes).toEqual([
      'image/png',
      'video/*',
    ]);
    expect(resolveThumbnailOptions({ concurrency: 4, maxQueue: 0 })).toMatchObject({ concurrency: 4, maxQueue: 0 });
  });

  it.each([
    [{ concurrency: 0 }, 'thumbnails.concurrency'],
    [{ maxWidth: 1.5 }, 'thumbnails.maxWidth'],
    [{ quality: 101 }, 'thumbnails.quality'],
    [{ maxInputPixels: -1 }, 'thumbnails.maxInputPixels'],
  ])('refuses thumbnails %j naming %s', (options, field) => {
    expect(() => resolveThumbnailOptions(options)).toThrow(expect.objectContaining({ field }));
  });

  it('refuses a malformed inline type', () => {
    expect(() => resolvePreviewOptions({ inlineTypes: ['text/html; x'] })).toThrow(ConfigError);
  });
});
