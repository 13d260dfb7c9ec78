import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, type Repository } from 'typeorm';
import { FileEntity } from '../database/entities/file.entity';
import { UploadGrantEntity } from '../database/entities/upload-grant.entity';
import { ObjectPurger } from '../purge/object-purger';
import { SKIPPED } from '../ledger/key-locks';
import { ObjectLedger } from '../ledger/object-ledger';
import { Reconciler, type ReconcileReport } from './reconciler';
import { UploadGrants } from '../signing/upload-grants';
import { SignedUploadService } from '../signing/signed-upload.service';
import { Clock } from '../ledger/clock';
import { KeyLocks } from '../ledger/key-locks';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { StorageMetrics } from '../metrics/storage-metrics';

export interface SweptFile {
  id: number;
  storage: string;
  name: string;
  fileName: string;
  expires: number | null;
}

export interface SweepReport {
  /** The expired records removed by this run. */
  removed: SweptFile[];
  /** Objects removed because their last reference expired. */
  objectsRemoved: number;
  /** Queued removals done by this run: superseded versions past their grace, earlier failures retried. */
  retiredRemoved: number;
  /** Keys another replica (or an upload) held: left for the next run. */
  skipped: number;
  /** Keys whose removal failed (logged); retried by the next run. */
  failed: number;
  /** Signed-upload grants past their expiry and the grace period, removed. */
  grantsRemoved: number;
  /** Spent cloud signed uploads whose staged object was removed (see `UploadGrants.sweepStaging`). */
  stagedRemoved: number;
  /** Finished direct uploads nobody completed, recorded by this run (see `SignedUploadService.completeArrived`). */
  stagedRecorded: number;
}

/** A run over every storage instance, or over one (`storage`, an element name). */
export interface LifecycleScope {
  storage?: string;
}

interface Candidate {
  keyHash: string;
  storeFullName: string;
  name: string;
}

/**
 * The sweeper's work: removes expired files nobody touched. Keys with expired records are read
 * in batches of `batchSize`, in key-hash order; each key is then handled in its own locked
 * step that re-reads the key's records, so the run is idempotent and a file re-uploaded after
 * it was picked keeps its new record and its object. Two replicas sweeping at once share the
 * work: a key one of them holds is skipped (`SKIP LOCKED`) by the other, never removed twice.
 */
@Injectable()
export class LifecycleService implements OnApplicationBootstrap {
  private readonly logger = new Logger(LifecycleService.name);

  constructor(
    @Inject(Clock) private readonly clock: Clock,
    private readonly locks: KeyLocks,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly objects: ObjectLedger,
    private readonly reconciler: Reconciler,
    private readonly purger: ObjectPurger,
    private readonly uploadGrants: UploadGrants,
    private readonly signedUploads: SignedUploadService,
    @InjectRepository(FileEntity) private readonly files: Repository<FileEntity>,
    @InjectRepository(UploadGrantEntity) private readonly grants: Repository<UploadGrantEntity>,
    private readonly metrics: StorageMetrics,
  ) {}

  /**
   * At start-up (with the background purge on): uploads that died with an earlier run of this
   * process, or with another process of this host, are released at once, not waited out.
   */
  onApplicationBootstrap(): void {
    if (this.options.lifecycle.purgeIntervalSeconds <= 0) return;
    this.reconciler.releaseStalePins().catch((err: unknown) => {
      this.logger.error(`releasing uploads of dead processes: ${String(err)}`);
    });
  }

  /** Removes expired files now, of every instance or of `storage` only; then works the removal queue. */
  sweepExpired(options: LifecycleScope = {}): Promise<SweepReport> {
    return this.metrics.sweeper.observe(() => this.sweep(options), sweepCounts);
  }

  private async sweep(options: LifecycleScope): Promise<SweepReport> {
    const report: SweepReport = {
      removed: [],
      objectsRemoved: 0,
      retiredRemoved: 0,
      skipped: 0,
      failed: 0,
      grantsRemoved: 0,
      stagedRemoved: 0,
      stagedRecorded: 0,
    };
    const now = this.clock.now();
    const { batchSize } = this.options.lifecycle;
    for (let after = ''; ;) {
      const batch = await this.expiredKeys(now, after, batchSize, options.storage);
      for (const candidate of batch) await this.sweepKey(candidate, report);
      if (batch.length < batchSize) break;
      after = batch[batch.length - 1].keyHash;
    }
    report.stagedRecorded = await this.signedUploads.completeArrived(options.storage);
    report.stagedRemoved = await this.uploadGrants.sweepStaging(options.storage);
    const graceMs = this.options.lifecycle.orphanGraceSeconds * 1000;
    const stale = {
      expiresAt: LessThan(now - graceMs),
      ...(options.storage ? { storeFullName: options.storage } : {}),
    };
    const grants = await this.locks.exclusive(() => this.grants.delete(stale));
    report.grantsRemoved = grants.affected ?? 0;
    const purged = await this.purger.purgeDue(options.storage);
    report.retiredRemoved = purged.removed;
    report.failed += purged.failed;
    if (report.removed.length > 0 || report.failed > 0) {
      this.logger.log(
        `swept ${report.removed.length} expired record(s), ${report.objectsRemoved} object(s); ` +
          `${report.skipped} key(s) busy, ${report.failed} failed`,
      );
    }
    return report;
  }

  /** Storage against records, of every instance or of `storage` only; see `Reconciler`. */
  reconcile(options: LifecycleScope = {}): Promise<ReconcileReport> {
    return this.metrics.reconciler.observe(() => this.reconciler.reconcile(options.storage), reconcileCounts);
  }

  private async sweepKey(candidate: Candidate, report: SweepReport): Promise<void> {
    const ref = { storeFullName: candidate.storeFullName, name: candidate.name, keyHash: candidate.keyHash };
    try {
      const result = await this.objects.removeRecords(ref, { expired: true }, { skipLocked: true });
      if (result === SKIPPED) {
        report.skipped += 1;
        return;
      }
      for (const r of result.records) {
        report.removed.push({
          id: r.id,
          storage: r.storeFullName,
          name: r.name,
          fileName: r.fileName,
          expires: r.expires,
        });
      }
      const purged = await this.purger.purge(result.retired);
      report.objectsRemoved += purged.removed;
      report.failed += purged.failed;
      if (result.records.length > 0) {
        const ids = result.records.map((r) => r.id).join(', ');
        this.logger.log(
          `removed expired '${ref.name}' in ${ref.storeFullName}: record(s) ${ids}` +
            (result.retired.length > 0 ? ', and its object' : '; the object stays (still referenced)'),
        );
      }
    } catch (err) {
      report.failed += 1;
      this.logger.error(`sweeping '${ref.name}' in ${ref.storeFullName} failed: ${(err as Error).message}`);
    }
  }

  private expiredKeys(now: number, after: string, limit: number, storage?: string): Promise<Candidate[]> {
    const query = this.files
      .createQueryBuilder('f')
      .select('f.keyHash', 'keyHash')
      .addSelect('MIN(f.storeFullName)', 'storeFullName')
      .addSelect('MIN(f.name)', 'name')
      .where('f.expires IS NOT NULL AND f.expires <= :now', { now })
      .andWhere('f.keyHash > :after', { after });
    if (storage) query.andWhere('f.storeFullName = :storage', { storage });
    return query.groupBy('f.keyHash').orderBy('f.keyHash', 'ASC').limit(limit).getRawMany<Candidate>();
  }
}

/** What a sweep did, by the action label of `storage_sweeper_items_total`. */
export function sweepCounts(report: SweepReport): Record<string, number> {
  return {
    records_expired: report.removed.length,
    objects_removed: report.objectsRemoved,
    retired_objects_removed: report.retiredRemoved,
    signed_upload_grants_removed: report.grantsRemoved,
    staged_uploads_removed: report.stagedRemoved,
    keys_skipped: report.skipped,
    failures: report.failed,
  };
}

/** What a reconciliation did or found, by the action label of `storage_reconciler_items_total`. */
export function reconcileCounts(report: ReconcileReport): Record<string, number> {
  return {
    pins_released: report.stalePins,
    orphans_removed: report.orphansRemoved.length,
    temp_files_removed: report.tempFilesRemoved,
    multipart_uploads_aborted: report.uploadsAborted,
    thumbnails_removed: report.derivativesRemoved,
    missing_objects: report.missingObjects.length,
    size_mismatches: report.sizeMismatches.length,
  };
}
