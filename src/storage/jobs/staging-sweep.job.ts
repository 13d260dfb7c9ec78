import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { UploadGrants } from '../signing/upload-grants';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';

/**
 * Removes spent staging objects of cloud signed uploads (`UploadGrants.sweepStaging`) every
 * `purgeIntervalSeconds` (0: only with the sweeper), so that a URL's upload is gone minutes after
 * the URL expired rather than at the next reconciliation past the orphan grace period.
 */
@Injectable()
export class StagingSweepJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(StagingSweepJob.name);
  private timer?: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly grants: UploadGrants,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
  ) {}

  onApplicationBootstrap(): void {
    const seconds = this.options.lifecycle.purgeIntervalSeconds;
    if (seconds <= 0) return;
    const tick = () => {
      this.running = this.grants
        .sweepStaging()
        .then((settled) => settled > 0 && this.logger.log(`removed ${settled} spent staged upload(s)`))
        .catch((err: unknown) => this.logger.error(`removing spent staged uploads: ${String(err)}`))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, seconds * 1000).unref();
        });
    };
    this.timer = setTimeout(tick, seconds * 1000).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
