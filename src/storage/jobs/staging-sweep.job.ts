import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { startRepeating } from '../ledger/repeating-task';
import { UploadGrants } from '../signing/upload-grants';
import { SignedUploadService } from '../signing/signed-upload.service';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';

/**
 * Records finished direct uploads nobody completed (`SignedUploadService.completeArrived`), then
 * removes spent staging objects of cloud signed uploads (`UploadGrants.sweepStaging`) every
 * `purgeIntervalSeconds` (0: only with the sweeper), so that a URL's upload is gone minutes after
 * the URL expired rather than at the next reconciliation past the orphan grace period.
 */
@Injectable()
export class StagingSweepJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(StagingSweepJob.name);
  private schedule?: { stop(): Promise<void> };

  constructor(
    private readonly grants: UploadGrants,
    private readonly signed: SignedUploadService,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
  ) {}

  onApplicationBootstrap(): void {
    const seconds = this.options.lifecycle.purgeIntervalSeconds;
    if (seconds <= 0) return;
    this.schedule = startRepeating(
      seconds,
      async () => {
        const recorded = await this.signed.completeArrived();
        if (recorded > 0) this.logger.log(`recorded ${recorded} finished direct upload(s) nobody completed`);
        const settled = await this.grants.sweepStaging();
        if (settled > 0) this.logger.log(`removed ${settled} spent staged upload(s)`);
      },
      (err) => this.logger.error(`removing spent staged uploads: ${String(err)}`),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.schedule?.stop();
  }
}
