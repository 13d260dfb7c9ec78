import { Controller, HttpCode, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { LifecycleService } from '../jobs/lifecycle.service';
import type { ReconcileReport } from '../jobs/reconciler';
import type { SweepReport } from '../jobs/lifecycle.service';
import { AccessPolicy } from '../auth/access-policy';
import { RequireScope } from '../auth/public.decorator';
import type { StorageUser } from '../auth/storage-user';
import { Caller } from '../auth/user.decorator';
import { StorageError } from '../errors/storage.error';

/**
 * On-demand lifecycle runs for operators (a token with the admin scope): what the scheduled sweeper does, over
 * every instance or, with `?storage=`, one.
 */
@Controller()
@UseGuards(StorageAuthGuard)
@RequireScope('admin')
@UseFilters(StorageExceptionFilter)
export class AdminController {
  constructor(
    private readonly lifecycle: LifecycleService,
    private readonly access: AccessPolicy,
  ) {}

  /** Removes expired files now; answers what was removed. */
  @Post('admin/sweep')
  @HttpCode(200)
  sweep(@Caller() caller?: StorageUser, @Query('storage') storage?: string): Promise<SweepReport> {
    return this.lifecycle.sweepExpired({ storage: this.known(caller, storage) });
  }

  /** Reconciles storage with the records now; answers what was removed and what is missing. */
  @Post('admin/reconcile')
  @HttpCode(200)
  reconcile(@Caller() caller?: StorageUser, @Query('storage') storage?: string): Promise<ReconcileReport> {
    return this.lifecycle.reconcile({ storage: this.known(caller, storage) });
  }

  /**
   * An unknown `?storage=` is a 400 listing the configured ones, as everywhere else. A token
   * limited to some instances must name one of them.
   */
  private known(caller: StorageUser | undefined, storage: string | undefined): string | undefined {
    if (storage) return this.access.instance(caller, 'admin', storage);
    if (caller?.storages) throw StorageError.forbidden('this token must name its instance with ?storage=');
    return undefined;
  }
}
