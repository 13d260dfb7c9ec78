import { uploadLimitsFromEnv } from './env-options';
import { resolveUploadLimits } from './upload-limits.options';

describe('upload limits', () => {
  it('fills in the defaults: 60 s idle, 64 uploads at once, 16 per user', () => {
    expect(resolveUploadLimits({})).toEqual({ idleTimeoutMs: 60_000, maxConcurrent: 64, maxConcurrentPerUser: 16 });
    expect(resolveUploadLimits({ maxConcurrentUploads: 0, uploadIdleTimeoutSeconds: 5 })).toEqual({
      idleTimeoutMs: 5000,
      maxConcurrent: 0,
      maxConcurrentPerUser: 16,
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a zero idle timeout', { uploadIdleTimeoutSeconds: 0 }, 'uploadIdleTimeoutSeconds'],
    ['a negative cap', { maxConcurrentUploads: -1 }, 'maxConcurrentUploads'],
    ['a fractional cap', { maxConcurrentUploadsPerUser: 1.5 }, 'maxConcurrentUploadsPerUser'],
  ])('refuses %s, naming the field', (_label, options, field) => {
    expect(() => resolveUploadLimits(options)).toThrow(field);
  });

  it('reads the variables that are set', () => {
    expect(
      uploadLimitsFromEnv({ UPLOAD_IDLE_TIMEOUT_SECONDS: '30', MAX_CONCURRENT_UPLOADS_PER_USER: '4', OTHER: '1' }),
    ).toEqual({ uploadIdleTimeoutSeconds: 30, maxConcurrentUploadsPerUser: 4 });
    expect(() => uploadLimitsFromEnv({ MAX_CONCURRENT_UPLOADS: 'many' })).toThrow('MAX_CONCURRENT_UPLOADS');
  });
});
