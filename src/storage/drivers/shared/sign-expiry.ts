import { StorageError } from '../../errors/storage.error';

/** Presigned URLs live at most 7 days (SigV4's limit; applied to every backend alike). */
export const MAX_SIGN_SECONDS = 7 * 24 * 3600;

/** Checks `expiresIn` (seconds) against the backend's limit. */
export function checkExpiresIn(expiresIn: number, maxSeconds: number): void {
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > maxSeconds) {
    throw StorageError.invalidArgument(`expiresIn must be a whole number of seconds from 1 to ${maxSeconds}`);
  }
}
