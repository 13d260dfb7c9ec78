import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { ConfigError } from '../config/storage-config';
import { LifecycleService } from './lifecycle.service';
import { ObjectLedger } from '../ledger/object-ledger';
import { Clock } from '../ledger/clock';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { StorageMetrics } from '../metrics/storage-metrics';

/**
 * The scheduled sweeper: on `lifecycle.sweepCron`, removes expired files (`sweepExpired`) and,
 * every `reconcileIntervalSeconds`, reconciles storage with the records (`reconcile`). It is
 * a `CronJob` of its own rather than a `@Cron()`, because its expression comes from configuration,
 * which a decorator cannot read (it runs at import time); and so that it runs in a host without
 * `ScheduleModule.forRoot()` (importing that twice would run the host's own jobs twice). When the
 * host has `ScheduleModule`, the job is listed in its `SchedulerRegistry` by name.
 * Runs never overlap within a process; across replicas the locks in `ObjectLedger` share the work.
 */
@Injectable()
export class ExpirySweeperJob implements OnApplicationBootstrap, OnModuleDestroy {
  static readonly jobName = 'storage.expirySweeper';
  private readonly logger = new Logger(ExpirySweeperJob.name);
  private lastReconcile = 0;
  private job?: CronJob<null, null>;
  private running?: Promise<void>;

  constructor(
    @Inject(Clock) private readonly clock: Clock,
    private readonly lifecycle: LifecycleService,
    private readonly objects: ObjectLedger,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly metrics: StorageMetrics,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const { sweepEnabled, sweepCron } = this.options.lifecycle;
    if (!sweepEnabled) {
      this.logger.log('the expiry sweeper is switched off (lifecycle.sweepEnabled)');
      return;
    }
    let job: CronJob<null, null>;
    try {
      job = CronJob.from({ cronTime: sweepCron, onTick: () => this.run(), start: false, waitForCompletion: true });
    } catch (err) {
      throw new ConfigError(
        'lifecycle.sweepCron',
        `'${sweepCron}' is not a cron expression (${(err as Error).message})`,
      );
    }
    // Listed with the host's SchedulerRegistry when it has ScheduleModule; runs either way.
    this.scheduler?.addCronJob(ExpirySweeperJob.jobName, job);
    this.job = job;
    job.start();
    this.logger.log(`expiry sweeper scheduled: '${sweepCron}'`);
  }

  /** Stops the schedule and waits for a run in progress, before the database closes. */
  async onModuleDestroy(): Promise<void> {
    await this.job?.stop();
    await this.running;
  }

  /** One run: sweep, then reconcile when due. Failures are logged; the next run retries. */
  run(): Promise<void> {
    this.running ??= this.sweep().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweep(): Promise<void> {
    try {
      await this.lifecycle.sweepExpired();
      const { reconcileEnabled, reconcileIntervalSeconds } = this.options.lifecycle;
      const now = this.clock.now();
      if (reconcileEnabled && now - this.lastReconcile >= reconcileIntervalSeconds * 1000) {
        this.lastReconcile = now;
        await this.lifecycle.reconcile();
      }
    } catch (err) {
      this.metrics.countDatabaseFailure(err);
      this.logger.error(`sweeper run failed: ${(err as Error).stack ?? err}`);
    }
  }
}
