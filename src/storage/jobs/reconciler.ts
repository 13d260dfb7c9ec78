import { Inject, Injectable, Logger } from '@nestjs/common';
import { In, LessThan, Like, MoreThan } from 'typeorm';
import type { ObjectStat, StorageDriver, UnfinishedUpload } from '../drivers/storage-driver';
import { FileEntity } from '../database/entities/file.entity';
import { isStorageError, StorageErrorCode } from '../errors/storage.error';
import { RESERVED_PREFIX, STAGING_PREFIX } from '../keys/keys';
import { ObjectPurger } from '../purge/object-purger';
import { ThumbnailService } from '../thumbnails/thumbnail.service';
import { StorageRegistry, type StorageInstance } from '../registry/storage-registry';
import { SKIPPED } from '../ledger/key-locks';
import { keyHash, ObjectLedger } from '../ledger/object-ledger';
import { PROCESS_IDENTITY } from '../ledger/process-identity';
import { RetiredObjectEntity } from '../database/entities/retired-object.entity';
import { StorageObjectEntity } from '../database/entities/storage-object.entity';
import { UploadClaims } from '../upload/upload-claims';
import { UploadPinEntity } from '../database/entities/upload-pin.entity';
import { Clock } from '../ledger/clock';
import { KeyLocks } from '../ledger/key-locks';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { RESUMABLE_PREFIX, ResumableUploads } from '../tus/resumable-uploads';

export interface MissingObject {
  storage: string;
  name: string;
  recordIds: number[];
}

export interface ReconcileReport {
  /** Uploads whose process died or that stopped sending heartbeats: their pins released. */
  stalePins: number;
  /** Objects no record referred to, older than the grace period: removed. */
  orphansRemoved: Array<{ storage: string; name: string }>;
  /** Abandoned temp files and staged direct uploads older than the grace period: removed. */
  tempFilesRemoved: number;
  /** Multipart uploads older than the grace period that no live upload owns: aborted on the backend. */
  uploadsAborted: number;
  /** Resumable (tus) uploads past their expiry (abandoned, or finished and kept for their record): removed. */
  resumableUploadsRemoved: number;
  /** Thumbnails older than the grace period of a source gone or overwritten, or unrecorded: removed. */
  derivativesRemoved: number;
  /** Records whose object is gone from the backend: reported, never deleted silently. */
  missingObjects: MissingObject[];
  /** Keys whose stored size differs from what their records say: reported. */
  sizeMismatches: Array<{ storage: string; name: string; recorded: number; stored: number }>;
}

/** What the local driver offers beyond the contract: its abandoned temp files. */
interface TempFiles {
  listTemp(): AsyncIterable<ObjectStat & { target: string | null }>;
  deleteTemp(key: string): Promise<void>;
  tempTagOf(key: string): string;
}

const PAGE = 500;

/**
 * Compares each backend with the records and repairs what crashes leave behind, erring towards
 * keeping data: an object with no record is removed only once it is older than the grace period
 * and only in a locked step that finds the key still unused; a record whose object is missing
 * is reported, not deleted. Derived images (`.thumbnails/`) past the grace period are handed to
 * `ThumbnailService.removeOrphans` with the set of their sources that still have a row.
 */
@Injectable()
export class Reconciler {
  private readonly logger = new Logger(Reconciler.name);

  constructor(
    @Inject(Clock) private readonly clock: Clock,
    private readonly locks: KeyLocks,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly objects: ObjectLedger,
    private readonly registry: StorageRegistry,
    private readonly thumbnails: ThumbnailService,
    private readonly claims: UploadClaims,
    private readonly purger: ObjectPurger,
    private readonly resumable: ResumableUploads,
  ) {}

  /** Every instance, or only `storage`. */
  async reconcile(storage?: string): Promise<ReconcileReport> {
    const instances = storage ? [this.registry.get(storage)] : this.registry.all();
    const report: ReconcileReport = {
      stalePins: await this.releaseStalePins(storage),
      orphansRemoved: [],
      tempFilesRemoved: 0,
      uploadsAborted: 0,
      resumableUploadsRemoved: await this.resumable.removeExpired(storage),
      derivativesRemoved: 0,
      missingObjects: [],
      sizeMismatches: [],
    };
    for (const instance of instances) await this.reconcileInstance(instance, report);
    for (const missing of report.missingObjects) {
      this.logger.warn(
        `records ${missing.recordIds.join(', ')} of '${missing.name}' (${missing.storage}) lost their object`,
      );
    }
    const removed =
      report.orphansRemoved.length +
      report.tempFilesRemoved +
      report.stalePins +
      report.derivativesRemoved +
      report.uploadsAborted +
      report.resumableUploadsRemoved;
    if (removed > 0) {
      this.logger.log(
        `reconciled: ${report.orphansRemoved.length} orphan object(s), ${report.tempFilesRemoved} temp file(s), ` +
          `${report.derivativesRemoved} thumbnail(s), ${report.stalePins} abandoned upload(s) removed, ` +
          `${report.uploadsAborted} unfinished multipart upload(s) aborted, ` +
          `${report.resumableUploadsRemoved} expired resumable upload(s) removed`,
      );
    }
    return report;
  }

  private get graceLimit(): number {
    return this.clock.now() - this.options.lifecycle.orphanGraceSeconds * 1000;
  }

  /**
   * Pins whose upload is gone: its process died (a pin of this host whose pid no longer runs, or
   * an earlier incarnation of this process) or it went silent past the lease. What they wrote is
   * retired and removed. Only `storage`'s keys, when given.
   */
  async releaseStalePins(storage?: string): Promise<number> {
    const manager = this.dataSource.manager;
    const staleBefore = this.clock.now() - this.options.lifecycle.uploadLeaseSeconds * 1000;
    // Pins of this host's processes: a `_` or `%` in the host name only widens the candidates.
    const host = PROCESS_IDENTITY.slice(0, PROCESS_IDENTITY.indexOf('/') + 1);
    const candidates = await manager.find(UploadPinEntity, {
      where: [{ heartbeatAt: LessThan(staleBefore) }, { owner: Like(`${host}%`) }],
      take: PAGE,
    });
    let released = 0;
    for (const pin of candidates.filter((p) => this.claims.isAbandoned(p))) {
      const row = await manager.findOne(StorageObjectEntity, { where: { keyHash: pin.keyHash } });
      if (storage && row?.storeFullName !== storage) continue;
      if (!row) {
        released += (await this.locks.exclusive(() => manager.delete(UploadPinEntity, { id: pin.id }))).affected ?? 0;
        continue;
      }
      const before = await manager.count(UploadPinEntity, { where: { keyHash: pin.keyHash } });
      const retired = await this.claims.releaseAbandonedOf(this.objects.ref(row.storeFullName, row.name));
      if (retired === SKIPPED) continue;
      released += before - (await manager.count(UploadPinEntity, { where: { keyHash: pin.keyHash } }));
      await this.purger.purge(retired);
    }
    return released;
  }

  private async reconcileInstance(instance: StorageInstance, report: ReconcileReport): Promise<void> {
    const listedFrom = this.clock.now();
    const stored = new Map<string, number>();
    let page: ObjectStat[] = [];
    let derived: ObjectStat[] = [];
    const chunks: ObjectStat[] = [];
    for await (const object of instance.driver.list()) {
      const first = object.key.split('/')[0].toLowerCase();
      if (first === RESERVED_PREFIX) {
        if (object.lastModified.getTime() < this.graceLimit) derived.push(object);
        if (derived.length >= PAGE) derived = await this.removeOrphanDerivatives(instance, derived, report);
        continue;
      }
      if (first === STAGING_PREFIX) {
        // Chunks of resumable uploads live as long as their upload: checked against its rows below.
        if (object.key.startsWith(RESUMABLE_PREFIX)) chunks.push(object);
        else if (object.lastModified.getTime() < this.graceLimit) {
          await instance.driver.delete(object.key);
          report.tempFilesRemoved += 1;
        }
        continue;
      }
      stored.set(keyHash(instance.name, object.key), object.size);
      page.push(object);
      if (page.length >= PAGE) page = await this.removeOrphans(instance, page, report);
    }
    await this.removeOrphans(instance, page, report);
    report.tempFilesRemoved += await this.resumable.removeUnrecordedChunks(instance.driver, chunks, this.graceLimit);
    await this.removeOrphanDerivatives(instance, derived, report);
    await this.checkRows(instance, stored, listedFrom, report);
    if (isTempFiles(instance.driver)) await this.removeTempFiles(instance.driver, report);
    await this.abortUnfinishedUploads(instance.driver, report);
  }

  /** The object keys live uploads are writing (pins held by a live owner), read now. */
  private async liveUploadKeys(): Promise<string[]> {
    const pins = await this.dataSource.manager.find(UploadPinEntity, {
      select: { objectKey: true, owner: true, heartbeatAt: true },
      where: { kind: 'write' },
    });
    return pins.filter((p) => !this.claims.isAbandoned(p)).map((p) => p.objectKey);
  }

  /**
   * Multipart uploads a put could not abort (the backend was down then), begun before the grace
   * period and not of a key a live upload is writing: aborted. Whatever the grace period, an
   * upload begun after the pins were read is left (its pin was written before it began).
   */
  private async abortUnfinishedUploads(driver: StorageDriver, report: ReconcileReport): Promise<void> {
    if (!driver.listUnfinishedUploads || !driver.abortUnfinishedUpload) return;
    const pinsReadAt = this.clock.now();
    const live = new Set(await this.liveUploadKeys());
    const limit = Math.min(this.graceLimit, pinsReadAt - 1000);
    const stale: UnfinishedUpload[] = [];
    try {
      for await (const upload of driver.listUnfinishedUploads()) {
        if (!live.has(upload.key) && upload.initiated.getTime() < limit) stale.push(upload);
      }
    } catch (err) {
      // Some S3-compatible stores do not list multipart uploads: the rest of the run still counts.
      this.logger.warn(`cannot list unfinished multipart uploads: ${(err as Error).message}`);
      return;
    }
    for (const upload of stale) {
      try {
        await driver.abortUnfinishedUpload(upload);
        report.uploadsAborted += 1;
      } catch (err) {
        if (!isStorageError(err, StorageErrorCode.NOT_FOUND)) throw err;
      }
    }
  }

  /**
   * Objects of `page` that no key, record, upload or removal queue knows, older than the grace
   * period: removed, after a re-check under the object key's lock.
   */
  private async removeOrphans(instance: StorageInstance, page: ObjectStat[], report: ReconcileReport) {
    const manager = this.dataSource.manager;
    const hashes = page.map((o) => keyHash(instance.name, o.key));
    const known = new Set<string>();
    const select = { keyHash: true } as const;
    for (const r of await manager.find(StorageObjectEntity, { select, where: { keyHash: In(hashes) } })) {
      known.add(r.keyHash);
    }
    for (const entity of [FileEntity, UploadPinEntity, RetiredObjectEntity]) {
      const rows = await manager.find(entity, { select: { objectHash: true }, where: { objectHash: In(hashes) } });
      for (const r of rows) known.add(r.objectHash);
    }
    for (const object of page) {
      const hash = keyHash(instance.name, object.key);
      if (known.has(hash) || object.lastModified.getTime() >= this.graceLimit) continue;
      const removed = await this.locks.run(this.objects.ref(instance.name, object.key), async (locked) => {
        if (!locked.created) return false;
        await locked.manager.delete(StorageObjectEntity, { id: locked.row.id });
        if ((await this.objects.mentions(locked.manager, hash)) > 0) return false;
        await this.purger.removeObject(instance, object.key, hash);
        return true;
      });
      if (removed === true) report.orphansRemoved.push({ storage: instance.name, name: object.key });
    }
    return [];
  }

  /** Thumbnails past the grace period of a source gone or since overwritten, or that no row records. */
  private async removeOrphanDerivatives(instance: StorageInstance, page: ObjectStat[], report: ReconcileReport) {
    if (page.length === 0) return [];
    const hashes = [...new Set(page.map((o) => o.key.split('/')[1] ?? ''))];
    const rows = await this.dataSource.manager.find(FileEntity, {
      select: { objectHash: true, md5: true },
      where: { objectHash: In(hashes) },
    });
    const sources = new Map<string, string | null>(rows.map((r) => [r.objectHash, r.md5]));
    report.derivativesRemoved += await this.thumbnails.removeOrphans(instance, page, sources);
    return [];
  }

  /**
   * Records whose object is missing or differs in size (reported), and keys nothing refers to
   * any more (collected). Records and keys changed since the listing began are left out: the
   * listing may predate their object.
   */
  private async checkRows(
    instance: StorageInstance,
    stored: Map<string, number>,
    listedFrom: number,
    report: ReconcileReport,
  ) {
    const manager = this.dataSource.manager;
    const missing = new Map<string, MissingObject>();
    const mismatched = new Set<string>();
    for (let after = 0; ;) {
      const records = await manager.find(FileEntity, {
        where: { storeFullName: instance.name, id: MoreThan(after) },
        order: { id: 'ASC' },
        take: PAGE,
      });
      for (const record of records) {
        if (record.uploadTime >= listedFrom) continue;
        const size = stored.get(record.objectHash);
        if (size === undefined) {
          const entry = missing.get(record.objectHash) ?? { storage: instance.name, name: record.name, recordIds: [] };
          entry.recordIds.push(record.id);
          missing.set(record.objectHash, entry);
        } else if (size !== record.size && !mismatched.has(record.objectHash)) {
          mismatched.add(record.objectHash);
          report.sizeMismatches.push({
            storage: instance.name,
            name: record.name,
            recorded: record.size,
            stored: size,
          });
        }
      }
      if (records.length < PAGE) break;
      after = records[records.length - 1].id;
    }
    report.missingObjects.push(...missing.values());
    await this.collectUnusedKeys(instance);
  }

  /** Key rows with no record and no upload, untouched for the grace period: dropped. */
  private async collectUnusedKeys(instance: StorageInstance): Promise<void> {
    const manager = this.dataSource.manager;
    for (let after = 0; ;) {
      const rows = await manager.find(StorageObjectEntity, {
        where: { storeFullName: instance.name, id: MoreThan(after), updatedAt: LessThan(this.graceLimit) },
        order: { id: 'ASC' },
        take: PAGE,
      });
      for (const row of rows) {
        if (await manager.exists(FileEntity, { where: { keyHash: row.keyHash } })) continue;
        const removed = await this.objects.removeRecords(this.objects.ref(row.storeFullName, row.name), { ids: [] });
        if (removed !== SKIPPED) await this.purger.purge(removed.retired);
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1].id;
    }
  }

  /**
   * Temp files past the grace period, except those of uploads in flight: whatever the grace
   * period, a temp file whose target a live pin names is kept (the pin is written before the
   * temp file is opened, so one begun after the pins were read is newer than that read).
   */
  private async removeTempFiles(driver: TempFiles, report: ReconcileReport): Promise<void> {
    const pinsReadAt = this.clock.now();
    const live = new Set((await this.liveUploadKeys()).map((key) => driver.tempTagOf(key)));
    // A second of slack for file systems whose timestamps are coarser than the clock.
    const limit = Math.min(this.graceLimit, pinsReadAt - 1000);
    for await (const temp of driver.listTemp()) {
      if (temp.target !== null && live.has(temp.target)) continue;
      if (temp.lastModified.getTime() >= limit) continue;
      await driver.deleteTemp(temp.key);
      report.tempFilesRemoved += 1;
    }
  }
}

function isTempFiles(driver: StorageDriver): driver is StorageDriver & TempFiles {
  const candidate = driver as Partial<TempFiles>;
  return typeof candidate.listTemp === 'function' && typeof candidate.deleteTemp === 'function';
}
