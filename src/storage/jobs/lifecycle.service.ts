import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, type Repository } from 'typeorm';
import { FileEntity } from '../database/entities/file.entity';
import { UploadGrantEntity } from '../database/entities/upload-grant.entity';
import { ObjectPurger } from '../purge/object-purger';
import { SKIPPED } from '../ledger/key-locks';
import { ObjectLedger, type SweptRecord } from '../ledger/object-ledger';
import type { ObjectRef } from '../ledger/key-locks';
import { sql } from '../ledger/sql';
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

/**
 * On MySQL/MariaDB, expired records read before their keys are handed to batches, in key order:
 * the batches' index reads and deletes by key (`storage_objects` and `storage_files` by
 * `keyHash`) then land on neighbouring index pages instead of one random page per key, most of
 * them not in the buffer pool on a large table (see `LifecycleService`).
 */
export const SWEEP_WINDOW = 10_000;

/** How many removed records a sweep report lists by name; `recordsRemoved` counts them all. */
export const LISTED_REMOVALS = 100;

export interface SweepReport {
  /** The expired records removed by this run: the first `LISTED_REMOVALS` of them. */
  removed: SweptFile[];
  /** How many expired records this run removed (all of them, listed or not). */
  recordsRemoved: number;
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

/** The purge of the last batch's objects, under way while the next batch is taken. */
interface Purging {
  last: Promise<void>;
}

/** Where the claim query stopped: its index's order, `(expires, id)`. */
interface Cursor {
  expires: number;
  id: number;
}

interface Candidate extends Cursor {
  keyHash: string;
  storeFullName: string;
  name: string;
}

/**
 * The sweeper's work: removes expired files nobody touched. Expired records are read in the
 * order of the expiry index (`expires, id`: a range scan, never a sort), a window at a time
 * (on MySQL `SWEEP_WINDOW` records, on SQLite `batchSize`); the window's distinct keys go in
 * `keyHash` order, `batchSize` keys a batch (keys are random md5s: in expiry order every key of a
 * batch lands on its own page of the key indexes, which on a large table are mostly not in
 * MariaDB's buffer pool; in key order a batch's keys share pages). Each batch's keys are handled
 * together in one locked, set-based step
 * (`ObjectLedger.removeExpiredBatch`) that re-reads the keys' records, so the run is idempotent
 * and a file re-uploaded after it was picked keeps its new record and its object. Two replicas
 * sweeping at once share the work: keys one of them holds are skipped (`SKIP LOCKED`) by the
 * other, never removed twice. One summary line is logged per run, not one per file.
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
      recordsRemoved: 0,
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
    const purging: Purging = { last: Promise.resolve() };
    // On SQLite every statement runs on the event loop: a claim of `batchSize` rows, the batch's
    // transaction and its purge each end in a turn of the loop, so requests are served between
    // them. Its pages are in the OS's cache, so key order saves no reads there, while each batch
    // would dirty (and write to the WAL) pages of the table and of its expiry and name indexes
    // all over the window instead of a few neighbouring ones: there a window is one batch.
    const window = this.locks.mysql ? Math.max(batchSize, SWEEP_WINDOW) : batchSize;
    for (let cursor: Cursor = { expires: Number.MIN_SAFE_INTEGER, id: 0 }, more = true; more;) {
      await nextTurn();
      const claimed = await this.expiredRecords(now, cursor, window, options.storage);
      more = claimed.length === window;
      if (claimed.length > 0) cursor = claimed[claimed.length - 1];
      const keys = keysOf(claimed);
      for (let i = 0; i < keys.length; i += batchSize) {
        await nextTurn();
        await this.sweepBatch(keys.slice(i, i + batchSize), report, purging);
      }
    }
    await purging.last;
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
    if (report.recordsRemoved > 0 || report.failed > 0) {
      this.logger.log(
        `swept ${report.recordsRemoved} expired record(s), ${report.objectsRemoved} object(s); ` +
          `${report.skipped} key(s) busy, ${report.failed} failed`,
      );
    }
    return report;
  }

  /** Storage against records, of every instance or of `storage` only; see `Reconciler`. */
  reconcile(options: LifecycleScope = {}): Promise<ReconcileReport> {
    return this.metrics.reconciler.observe(() => this.reconciler.reconcile(options.storage), reconcileCounts);
  }

  /**
   * One batch of keys in one set-based step; keys without a row go one by one. The batch's
   * objects are purged while the next batch is claimed and taken (one purge at a time): the
   * purge waits on the backend, the next step on the database. Its queue rows are committed
   * first, so a crash meanwhile leaves them for the purger.
   */
  private async sweepBatch(refs: ObjectRef[], report: SweepReport, purging: Purging): Promise<void> {
    try {
      const result = await this.objects.removeExpiredBatch(refs);
      report.skipped += result.busy;
      this.list(result.records, report);
      await purging.last;
      purging.last = this.purgeRetired(result.retired, report);
      for (const ref of result.missing) await this.sweepKey(ref, report);
    } catch (err) {
      report.failed += refs.length;
      this.logger.error(`sweeping a batch of ${refs.length} key(s) failed: ${(err as Error).message}`);
    }
  }

  private async sweepKey(ref: ObjectRef, report: SweepReport): Promise<void> {
    try {
      const result = await this.objects.removeRecords(ref, { expired: true }, { skipLocked: true });
      if (result === SKIPPED) {
        report.skipped += 1;
        return;
      }
      await this.account(result.records, result.retired, report);
    } catch (err) {
      report.failed += 1;
      this.logger.error(`sweeping '${ref.name}' in ${ref.storeFullName} failed: ${(err as Error).message}`);
    }
  }

  /** Removes the objects the step retired, and counts (and lists the first few of) the records. */
  private async account(records: SweptRecord[], retired: number[], report: SweepReport): Promise<void> {
    this.list(records, report);
    await this.purgeRetired(retired, report);
  }

  /** Counts the records a step removed, and lists the first few. */
  private list(records: SweptRecord[], report: SweepReport): void {
    report.recordsRemoved += records.length;
    for (const r of records.slice(0, Math.max(0, LISTED_REMOVALS - report.removed.length))) {
      report.removed.push({
        id: r.id,
        storage: r.storeFullName,
        name: r.name,
        fileName: r.fileName,
        expires: r.expires,
      });
    }
  }

  /** Removes the objects a step retired (queued: a failure here leaves them to the purger's next run). */
  private async purgeRetired(retired: number[], report: SweepReport): Promise<void> {
    try {
      await nextTurn();
      const purged = await this.purger.purge(retired);
      report.objectsRemoved += purged.removed;
      report.failed += purged.failed;
    } catch (err) {
      report.failed += retired.length;
      this.logger.error(`removing ${retired.length} swept object(s) failed: ${(err as Error).message}`);
    }
  }

  /**
   * Up to `limit` expired records after `cursor`, in `(expires, id)` order: the order of
   * `IDX_storage_files_expires` (which ends with the primary key on both databases), so the
   * database reads a range of that index and stops after `limit`, whatever the backlog.
   */
  private async expiredRecords(now: number, cursor: Cursor, limit: number, storage?: string): Promise<Candidate[]> {
    const { rows } = await sql<Record<string, unknown>>(
      this.files.manager,
      expiredRecordsQuery(storage !== undefined, isMysql(this.files.manager.connection.options.type)),
      [now, cursor.expires, cursor.expires, cursor.id, ...(storage !== undefined ? [storage] : []), limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      expires: Number(r.expires),
      keyHash: String(r.keyHash),
      storeFullName: String(r.storeFullName),
      name: String(r.name),
    }));
  }
}

/** What a sweep did, by the action label of `storage_sweeper_items_total`. */
export function sweepCounts(report: SweepReport): Record<string, number> {
  return {
    records_expired: report.recordsRemoved,
    objects_removed: report.objectsRemoved,
    retired_objects_removed: report.retiredRemoved,
    signed_upload_grants_removed: report.grantsRemoved,
    staged_uploads_removed: report.stagedRemoved,
    staged_uploads_recorded: report.stagedRecorded,
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
    resumable_uploads_removed: report.resumableUploadsRemoved,
  };
}

/** The sweeper's claim query (see `expiredRecords`); `test/query-plans` checks its plan. */
export function expiredRecordsQuery(byStorage: boolean, mysql: boolean): string {
  const index = byStorage ? 'IDX_storage_files_store_expires' : 'IDX_storage_files_expires';
  // MariaDB takes a table scan and a sort when most rows qualify, not seeing that the LIMIT
  // stops an in-order index read early: the index is named to it.
  return (
    `SELECT id, expires, keyHash, storeFullName, name FROM storage_files${mysql ? ` FORCE INDEX (${index})` : ''} ` +
    'WHERE expires IS NOT NULL AND expires <= ? AND (expires > ? OR (expires = ? AND id > ?))' +
    (byStorage ? ' AND storeFullName = ?' : '') +
    ' ORDER BY expires, id LIMIT ?'
  );
}

function isMysql(type: string): boolean {
  return type === 'mysql' || type === 'mariadb';
}

/** Resolves after the event loop has run its pending I/O and timers (`setImmediate`). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The distinct keys of `candidates`, in `keyHash` order. */
function keysOf(candidates: Candidate[]): ObjectRef[] {
  const keys = new Map(candidates.map((c) => [c.keyHash, c]));
  return [...keys.values()]
    .sort((a, b) => (a.keyHash < b.keyHash ? -1 : a.keyHash > b.keyHash ? 1 : 0))
    .map((c) => ({ keyHash: c.keyHash, storeFullName: c.storeFullName, name: c.name }));
}
