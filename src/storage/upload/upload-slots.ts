import { Injectable } from '@nestjs/common';
import { StorageError } from '../errors/storage.error';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { InFlight } from './in-flight';

/** Seconds a refused upload is told to wait: slots free as soon as any upload ends. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Caps uploads in flight, in this process: `maxConcurrentUploads` in all, and
 * `maxConcurrentUploadsPerUser` per user (uploads without a user count only in all). Counts live
 * in memory, so on several replicas each replica has its own caps. An upload past a cap is
 * refused with 429 `E_TOO_MANY_REQUESTS` before it claims its key or reads a byte. A slot is
 * given back once its upload is over, the clean-up of a failed one included (`settled`).
 */
@Injectable()
export class UploadSlots {
  private readonly inFlight = new InFlight();
  private readonly byUser = new Map<string, number>();

  constructor(@InjectStorageOptions() private readonly options: ResolvedStorageOptions) {}

  /** Takes a slot for an upload by `user`, or throws; the function returned gives it back (once). */
  take(user: string | undefined): () => void {
    const { maxConcurrent, maxConcurrentPerUser } = this.options.uploads;
    const mine = user === undefined ? 0 : (this.byUser.get(user) ?? 0);
    if (user !== undefined && maxConcurrentPerUser > 0 && mine >= maxConcurrentPerUser) {
      throw StorageError.tooManyRequests(
        `you have ${mine} uploads in progress, the most allowed at once`,
        RETRY_AFTER_SECONDS,
      );
    }
    if (maxConcurrent > 0 && this.inFlight.size >= maxConcurrent) {
      throw StorageError.tooManyRequests('the service is taking as many uploads as it can', RETRY_AFTER_SECONDS);
    }
    this.inFlight.enter();
    if (user !== undefined) this.byUser.set(user, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight.leave();
      if (user === undefined) return;
      const left = (this.byUser.get(user) ?? 1) - 1;
      if (left > 0) this.byUser.set(user, left);
      else this.byUser.delete(user);
    };
  }

  /** Resolves true once no upload holds a slot, false after `ms`. */
  settled(ms: number): Promise<boolean> {
    return this.inFlight.idle(ms);
  }
}
