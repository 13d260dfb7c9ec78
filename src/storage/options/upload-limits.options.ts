import { ConfigError } from '../config/storage-config';

/** Bounds on uploads in flight: `uploadIdleTimeoutSeconds`, `maxConcurrentUploads(PerUser)` in the module options. */
export interface UploadLimitOptions {
  /**
   * Seconds an upload may send nothing before it is ended with 408 `E_TIMEOUT` and everything it
   * held is released (default 60). Uploads have no total time limit: they are timed by progress.
   */
  uploadIdleTimeoutSeconds?: number;
  /** Uploads in flight at once in this process, all users together (default 64; 0: no cap). Past it 429. */
  maxConcurrentUploads?: number;
  /** Uploads in flight at once per user (token name) in this process (default 16; 0: no cap). Past it 429. */
  maxConcurrentUploadsPerUser?: number;
}

export interface ResolvedUploadLimits {
  idleTimeoutMs: number;
  /** 0: no cap. */
  maxConcurrent: number;
  /** 0: no cap. */
  maxConcurrentPerUser: number;
}

export const UPLOAD_LIMIT_DEFAULTS = {
  uploadIdleTimeoutSeconds: 60,
  maxConcurrentUploads: 64,
  maxConcurrentUploadsPerUser: 16,
} as const satisfies Required<UploadLimitOptions>;

/** Defaults filled in; a bad value is a `ConfigError` naming the field. */
export function resolveUploadLimits(given: UploadLimitOptions): ResolvedUploadLimits {
  const read = (field: keyof UploadLimitOptions, least: number): number => {
    const value = given[field] ?? UPLOAD_LIMIT_DEFAULTS[field];
    if (!Number.isSafeInteger(value) || value < least) {
      throw new ConfigError(field, `must be a whole number of at least ${least}`);
    }
    return value;
  };
  return {
    idleTimeoutMs: read('uploadIdleTimeoutSeconds', 1) * 1000,
    maxConcurrent: read('maxConcurrentUploads', 0),
    maxConcurrentPerUser: read('maxConcurrentUploadsPerUser', 0),
  };
}
