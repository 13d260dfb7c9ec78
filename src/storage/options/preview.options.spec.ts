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
      maxDerivativesPerSource: 16,
      maxQueuePerClient: 8,
      presets: [64, 120, 240, 480, 960].map((n) => ({ width: n, height: n })),
    });
  });

  it('reads presets as squares or WxH, adds 120 x 120 and cuts the default list to the bounds', () => {
    const sizes = (options: Parameters<typeof resolveThumbnailOptions>[0]) =>
      resolveThumbnailOptions(options).presets.map((p) => `${p.width}x${p.height}`);
    expect(sizes({ presets: ['320x200', 48, ' 48 X 48 '] })).toEqual(['48x48', '120x120', '320x200']);
    expect(sizes({ maxWidth: 300, maxHeight: 300 })).toEqual(['64x64', '120x120', '240x240']);
    expect(sizes({ maxWidth: 100 })).toEqual(['64x64', '100x120']);
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
    [{ maxDerivativesPerSource: 0 }, 'thumbnails.maxDerivativesPerSource'],
    [{ presets: ['big'] }, 'thumbnails.presets'],
    [{ presets: [2000] }, 'thumbnails.presets'],
    [{ presets: '120' as unknown as number[] }, 'thumbnails.presets'],
  ])('refuses thumbnails %j naming %s', (options, field) => {
    expect(() => resolveThumbnailOptions(options)).toThrow(expect.objectContaining({ field }));
  });

  it('refuses a malformed inline type', () => {
    expect(() => resolvePreviewOptions({ inlineTypes: ['text/html; x'] })).toThrow(ConfigError);
  });
});
