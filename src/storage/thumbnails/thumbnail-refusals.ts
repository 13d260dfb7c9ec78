import { StorageError, StorageErrorCode } from '../errors/storage.error';

/**
 * Why a thumbnail request was refused, for `storage_thumbnail_refusals_total`, or undefined when
 * `err` is no refusal (a missing file, a backend or database failure). Reasons: `bad_parameters`
 * (400), `not_an_image` (415: not an image, or one that does not decode), `too_many_pixels` (413,
 * past `maxInputPixels`), `source_too_large` (413, past `maxSourceBytes`), `queue_full` (503,
 * past `maxQueue`), `client_queue_full` (429, past `maxQueuePerClient`); `rate_limited` (429, the
 * public rate limit) is counted by the rate-limit guard, which refuses before this service runs.
 */
export function thumbnailRefusalReason(err: unknown): string | undefined {
  if (!(err instanceof StorageError)) return undefined;
  if (typeof err.context.reason === 'string') return err.context.reason;
  switch (err.code) {
    case StorageErrorCode.INVALID_ARGUMENT:
      return 'bad_parameters';
    case StorageErrorCode.UNSUPPORTED_MEDIA_TYPE:
      return 'not_an_image';
    case StorageErrorCode.TOO_LARGE:
      return err.context.maxPixels === undefined ? 'source_too_large' : 'too_many_pixels';
    default:
      return undefined;
  }
}
