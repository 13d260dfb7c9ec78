import { Controller, HttpCode, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { LifecycleService } from '../jobs/lifecycle.service';
import type { ReconcileReport } from '../jobs/reconciler';
import type { SweepReport } from '../jobs/lifecycle.service';
import { StorageRegistry } from '../registry/storage-registry';

/**
 * On-demand lifecycle runs for operators (authenticated): what the scheduled sweeper does, over
 * every instance or, with `?storage=`, one.
 */
@Controller()
@UseGuards(StorageAuthGuard)
@UseFilters(StorageExceptionFilter)
export class AdminController {
  constructor(
    private readonly lifecycle: LifecycleService,
    private readonly registry: StorageRegistry,
  ) {}

  /** Removes expired files now; answers what was removed. */
  @Post('admin/sweep')
  @HttpCode(200)
  sweep(@Query('storage') storage?: string): Promise<SweepReport> {
    return this.lifecycle.sweepExpired({ storage: this.known(storage) });
  }

  /** Reconciles storage with the records now; answers what was removed and what is missing. */
  @Post('admin/reconcile')
  @HttpCode(200)
  reconcile(@Query('storage') storage?: string): Promise<ReconcileReport> {
    return this.lifecycle.reconcile({ storage: this.known(storage) });
  }

  /** An unknown `?storage=` is a 400 listing the configured ones, as everywhere else. */
  private known(storage: string | undefined): string | undefined {
    return storage ? this.registry.get(storage).name : undefined;
  }
}
