import { Injectable, Logger } from '@nestjs/common';
import { In, LessThan, MoreThan } from 'typeorm';
import type { ObjectStat, StorageDriver } from '../drivers/storage-driver';
import { FileEntity } from '../file.entity';
import { RESERVED_PREFIX, STAGING_PREFIX } from '../keys';
import { ThumbnailService } from '../preview/thumbnail.service';
import { StorageRegistry, type StorageInstance } from '../storage-registry';
import { SKIPPED } from './key-locks';
import { keyHash, ObjectStore } from './object-store';
import { StorageObjectEntity } from './storage-object.entity';
import { UploadPinEntity } from './upload-pin.entity';

export interface MissingObject {
  storage: string;
  name: string;
  recordIds: number[];
}

export interface ReconcileReport {
  /** Uploads that stopped sending heartbeats: their pins released. */
  stalePins: number;
  /** Objects no record referred to, older than the grace period: removed. */
  orphansRemoved: Array<{ storage: string; name: string }>;
  /** Abandoned temp files and staged direct uploads older than the grace period: removed. */
  tempFilesRemoved: number;
  /** Thumbnails older than the grace period of a source gone or overwritten, or unrecorded: removed. */
  derivativesRemoved: number;
  /** Records whose object is gone from the backend: reported, never deleted silently. */
  missingObjects: MissingObject[];
  /** Keys whose stored size differs from what their records say: reported. */
  sizeMismatches: Array<{ storage: string; name: string; recorded: number; stored: number }>;
}

/** What the local driver offers beyond the contract: its abandoned temp files. */
interface TempFiles {
  listTemp(): AsyncIterable<ObjectStat>;
  deleteTemp(key: string): Promise<void>;
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
    private readonly objects: ObjectStore,
    private readonly registry: StorageRegistry,
    private readonly thumbnails: ThumbnailService,
  ) {}

  /** Every instance, or only `storage`. */
  async reconcile(storage?: string): Promise<ReconcileReport> {
    const instances = storage ? [this.registry.get(storage)] : this.registry.all();
    const report: ReconcileReport = {
      stalePins: await this.releaseStalePins(storage),
      orphansRemoved: [],
      tempFilesRemoved: 0,
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
      report.orphansRemoved.length + report.tempFilesRemoved + report.stalePins + report.derivativesRemoved;
    if (removed > 0) {
      this.logger.log(
        `reconciled: ${report.orphansRemoved.length} orphan object(s), ${report.tempFilesRemoved} temp file(s), ` +
          `${report.derivativesRemoved} thumbnail(s), ${report.stalePins} abandoned upload(s) removed`,
      );
    }
    return report;
  }

  private get graceLimit(): number {
    return this.objects.clock.now() - this.objects.lifecycle.orphanGraceSeconds * 1000;
  }

  /** Pins whose upload stopped sending heartbeats (of `storage`'s keys only, when given). */
  private async releaseStalePins(storage?: string): Promise<number> {
    const manager = this.objects.dataSource.manager;
    const staleBefore = this.objects.clock.now() - this.objects.lifecycle.uploadLeaseSeconds * 1000;
    const pins = await manager.find(UploadPinEntity, { where: { heartbeatAt: LessThan(staleBefore) }, take: PAGE });
    let released = 0;
    for (const pin of pins) {
      const row = await manager.findOne(StorageObjectEntity, { where: { keyHash: pin.keyHash } });
      if (storage && row?.storeFullName !== storage) continue;
      if (!row) {
        released +=
          (await this.objects.locks.exclusive(() => manager.delete(UploadPinEntity, { id: pin.id }))).affected ?? 0;
        continue;
      }
      const done = await this.objects.locks.run(this.objects.ref(row.storeFullName, row.name), async (locked) => {
        const gone = await locked.manager.delete(UploadPinEntity, { id: pin.id, heartbeatAt: LessThan(staleBefore) });
        await this.objects.collectIfUnreferenced(locked, this.objects.clock.now(), true);
        return gone.affected ?? 0;
      });
      if (done !== SKIPPED) released += done;
    }
    return released;
  }

  private async reconcileInstance(instance: StorageInstance, report: ReconcileReport): Promise<void> {
    const listedFrom = this.objects.clock.now();
    const stored = new Map<string, number>();
    let page: ObjectStat[] = [];
    let derived: ObjectStat[] = [];
    for await (const object of instance.driver.list()) {
      const first = object.key.split('/')[0].toLowerCase();
      if (first === RESERVED_PREFIX) {
        if (object.lastModified.getTime() < this.graceLimit) derived.push(object);
        if (derived.length >= PAGE) derived = await this.removeOrphanDerivatives(instance, derived, report);
        continue;
      }
      if (first === STAGING_PREFIX) {
        if (object.lastModified.getTime() < this.graceLimit) {
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
    await this.removeOrphanDerivatives(instance, derived, report);
    await this.checkRows(instance, stored, listedFrom, report);
    if (isTempFiles(instance.driver)) await this.removeTempFiles(instance.driver, report);
  }

  /** Objects of `page` with no row, older than the grace period, go if the key is still unused. */
  private async removeOrphans(instance: StorageInstance, page: ObjectStat[], report: ReconcileReport) {
    const hashes = page.map((o) => keyHash(instance.name, o.key));
    const rows = await this.objects.dataSource.manager.find(StorageObjectEntity, {
      select: { keyHash: true },
      where: { keyHash: In(hashes) },
    });
    const known = new Set(rows.map((r) => r.keyHash));
    for (const object of page) {
      if (known.has(keyHash(instance.name, object.key)) || object.lastModified.getTime() >= this.graceLimit) continue;
      const removed = await this.objects.locks.run(this.objects.ref(instance.name, object.key), async (locked) => {
        const records = await locked.manager.count(FileEntity, { where: { keyHash: locked.row.keyHash } });
        if (!locked.created || records > 0) return false;
        await locked.manager.delete(StorageObjectEntity, { id: locked.row.id });
        locked.removeObject();
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
    const rows = await this.objects.dataSource.manager.find(StorageObjectEntity, {
      select: { keyHash: true, md5: true },
      where: { keyHash: In(hashes) },
    });
    const sources = new Map(rows.map((r) => [r.keyHash, r.md5]));
    report.derivativesRemoved += await this.thumbnails.removeOrphans(instance, page, sources);
    return [];
  }

  /**
   * Rows whose object is missing or differs in size; rows nothing refers to any more. Rows
   * changed since the listing began are left out: the listing may predate their object.
   */
  private async checkRows(
    instance: StorageInstance,
    stored: Map<string, number>,
    listedFrom: number,
    report: ReconcileReport,
  ) {
    const manager = this.objects.dataSource.manager;
    for (let after = 0; ;) {
      const rows = await manager.find(StorageObjectEntity, {
        where: { storeFullName: instance.name, id: MoreThan(after) },
        order: { id: 'ASC' },
        take: PAGE,
      });
      for (const row of rows) {
        if (row.updatedAt >= listedFrom) continue;
        const size = stored.get(row.keyHash);
        const records = await manager.find(FileEntity, { select: { id: true }, where: { keyHash: row.keyHash } });
        if (records.length === 0 && row.updatedAt < this.graceLimit) {
          await this.objects.removeRecords(this.objects.ref(row.storeFullName, row.name), { ids: [] });
        } else if (size === undefined && row.md5 !== null && records.length > 0) {
          report.missingObjects.push({ storage: instance.name, name: row.name, recordIds: records.map((r) => r.id) });
        } else if (size !== undefined && row.size !== null && size !== row.size) {
          report.sizeMismatches.push({ storage: instance.name, name: row.name, recorded: row.size, stored: size });
        }
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1].id;
    }
  }

  private async removeTempFiles(driver: TempFiles, report: ReconcileReport): Promise<void> {
    for await (const temp of driver.listTemp()) {
      if (temp.lastModified.getTime() >= this.graceLimit) continue;
      await driver.deleteTemp(temp.key);
      report.tempFilesRemoved += 1;
    }
  }
}

function isTempFiles(driver: StorageDriver): driver is StorageDriver & TempFiles {
  const candidate = driver as Partial<TempFiles>;
  return typeof candidate.listTemp === 'function' && typeof candidate.deleteTemp === 'function';
}
