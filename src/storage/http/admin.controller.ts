import { Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import type { ReconcileReport } from '../lifecycle/reconciler';
import type { SweepReport } from '../lifecycle/lifecycle.service';

/** On-demand lifecycle runs for operators (authenticated): what the scheduled sweeper does. */
@Controller('storage')
@UseGuards(StorageAuthGuard)
export class AdminController {
  constructor(private readonly lifecycle: LifecycleService) {}

  /** Removes expired files now; answers what was removed. */
  @Post('admin/sweep')
  @HttpCode(200)
  sweep(): Promise<SweepReport> {
    return this.lifecycle.sweepExpired();
  }

  /** Reconciles storage with the records now; answers what was removed and what is missing. */
  @Post('admin/reconcile')
  @HttpCode(200)
  reconcile(): Promise<ReconcileReport> {
    return this.lifecycle.reconcile();
  }
}
