import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { In } from 'typeorm';
import { FileEntity } from '../database/entities/file.entity';
import { SKIPPED } from '../ledger/key-locks';
import { isExpired, ObjectLedger } from '../ledger/object-ledger';
import { RetiredObjectEntity } from '../database/entities/retired-object.entity';
import { StorageObjectEntity } from '../database/entities/storage-object.entity';
import { UploadPinEntity } from '../database/entities/upload-pin.entity';
import { ThumbnailService } from '../thumbnails/thumbnail.service';
import { StorageRegistry, type StorageInstance } from '../registry/storage-registry';
import { Clock } from '../ledger/clock';
import { KeyLocks } from '../ledger/key-locks';
import { startRepeating } from '../ledger/repeating-task';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { StorageMetrics } from '../metrics/storage-metrics';
import { placeholders, sql } from '../ledger/sql';

export interface PurgeReport {
  /** Objects removed from their backend (with their derivatives). */
  removed: number;
  /** Shared objects that gained a reference again before their turn: kept. */
  revived: number;
  /** Removals that failed: left queued, retried later. */
  failed: number;
}

const BATCH = 200;
/** How many objects of a batch are removed at once. */
const CONCURRENCY = 16;
const MAX_BACKOFF_MS = 3600_000;

/**
 * The one way an object leaves storage, with everything derived from it. Works the removal
 * queue the ledger fills (`storage_retired_objects`): once a row is due, the object and its
 * thumbnails are removed, then the row. A failed removal stays queued with a growing back-off,
 * so a deleted file's bytes are removed eventually even when the backend was down at the time.
 * Runs on demand (`purge` right after a delete, `purgeDue` from the sweeper) and every
 * `purgeIntervalSeconds` in the background (0: off), which also clears what a crash left queued.
 */
@Injectable()
export class ObjectPurger implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ObjectPurger.name);
  private schedule?: { stop(): Promise<void> };

  constructor(
    @Inject(Clock) private readonly clock: Clock,
    private readonly locks: KeyLocks,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly ledger: ObjectLedger,
    private readonly registry: StorageRegistry,
    private readonly thumbnails: ThumbnailService,
    private readonly metrics: StorageMetrics,
  ) {}

  onApplicationBootstrap(): void {
    const seconds = this.options.lifecycle.purgeIntervalSeconds;
    if (seconds <= 0) return;
    this.schedule = startRepeating(
      seconds,
      () => this.purgeDue(),
      (err) => {
        this.metrics.countDatabaseFailure(err);
        this.logger.error(`purging retired objects: ${String(err)}`);
      },
      0,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.schedule?.stop();
  }

  /**
   * Removes the queued objects `ids` that are due (right after the step that queued them), `BATCH`
   * rows at a time: a sweep hands over a whole batch's objects at once.
   */
  async purge(ids: number[]): Promise<PurgeReport> {
    const report: PurgeReport = { removed: 0, revived: 0, failed: 0 };
    const repo = this.dataSource.getRepository(RetiredObjectEntity);
    for (let i = 0; i < ids.length; i += BATCH) {
      const rows = await repo.find({ where: { id: In(ids.slice(i, i + BATCH)) } });
      await this.purgeRows(rows, report);
    }
    return report;
  }

  /** Every due removal of the configured instances, or of `storage` only. */
  async purgeDue(storage?: string): Promise<PurgeReport> {
    const report: PurgeReport = { removed: 0, revived: 0, failed: 0 };
    const stores = storage ? [this.registry.get(storage).name] : this.registry.names();
    const repo = this.dataSource.getRepository(RetiredObjectEntity);
    const now = this.clock.now();
    for (let afterId = 0; ;) {
      const rows = await repo
        .createQueryBuilder('r')
        .where('r.removeAfter <= :now', { now })
        .andWhere('r.storeFullName IN (:...stores)', { stores })
        .andWhere('r.id > :afterId', { afterId })
        .orderBy('r.id', 'ASC')
        .take(BATCH)
        .getMany();
      await this.purgeRows(rows, report);
      if (rows.length < BATCH) break;
      afterId = rows[rows.length - 1].id;
    }
    if (report.removed + report.failed > 0) {
      this.logger.log(`removed ${report.removed} retired object(s); ${report.failed} failed and stay queued`);
    }
    return report;
  }

  /** Removes an object and its derivatives from `instance` now; a missing object is not an error. */
  async removeObject(instance: StorageInstance, objectKey: string, objectHash: string): Promise<void> {
    await instance.driver.delete(objectKey);
    await this.thumbnails.removeDerivatives(instance, objectHash);
  }

  /**
   * Removes the due rows' objects, `CONCURRENCY` at a time (each removal waits on its backend:
   * file-system calls on local disk, a round trip on a cloud), then their derivatives, then takes
   * the removed plain objects' rows off the queue in one statement (one commit, not one per
   * object). Derivatives are looked up by one query for the whole batch, made after the objects
   * are gone (a render that stores a thumbnail later finds its source missing and removes it,
   * `ThumbnailService.make`); only objects that have derivative rows are looked at again (their
   * rows and objects, then their folder). An object whose derivative was stored but never
   * recorded (a render that died half-way) leaves that derivative to the reconciler, which removes
   * derivatives of sources that are gone. A crash in between leaves rows whose object is gone:
   * the next run removes nothing and dequeues them.
   */
  private async purgeRows(rows: RetiredObjectEntity[], report: PurgeReport): Promise<void> {
    const now = this.clock.now();
    const names = new Set(this.registry.names());
    const due = rows.filter((row) => row.removeAfter <= now && names.has(row.storeFullName));
    const removed: RetiredObjectEntity[] = [];
    await inParallel(due, CONCURRENCY, async (row) => {
      const instance = this.registry.get(row.storeFullName);
      try {
        if (row.shared) {
          const outcome = await this.purgeShared(instance, row);
          if (outcome === 'revived') report.revived += 1;
          if (outcome === 'removed') report.removed += 1;
          return;
        }
        await instance.driver.delete(row.objectKey);
        removed.push(row);
      } catch (err) {
        report.failed += 1;
        await this.postpone(row, err);
      }
    });
    if (removed.length === 0) return;
    const derived = await this.withDerivatives(removed);
    await inParallel(
      removed.filter((row) => derived.has(row.objectHash)),
      CONCURRENCY,
      (row) => this.thumbnails.removeDerivatives(this.registry.get(row.storeFullName), row.objectHash),
    );
    const dequeued = await this.locks.exclusive(() =>
      sql(
        this.dataSource.manager,
        `DELETE FROM storage_retired_objects WHERE id IN (${placeholders(removed.length)})`,
        removed.map((row) => row.id),
      ),
    );
    // Another runner that read the same rows removed them too (harmless, they are gone): one counts each.
    report.removed += dequeued.affected;
  }

  /** Of the objects `rows` name, those that have derivative rows (one query). */
  private async withDerivatives(rows: RetiredObjectEntity[]): Promise<Set<string>> {
    const hashes = [...new Set(rows.map((row) => row.objectHash))];
    const { rows: found } = await sql<{ sourceKeyHash: string }>(
      this.dataSource.manager,
      `SELECT DISTINCT sourceKeyHash FROM storage_thumbnails WHERE sourceKeyHash IN (${placeholders(hashes.length)})`,
      hashes,
    );
    return new Set(found.map((row) => String(row.sourceKeyHash)));
  }

  /**
   * A shared (md5-named) object goes under its key's lock, and only if nobody took a reference
   * again since it was queued (an upload of the same content removes the row: then it stays).
   */
  private async purgeShared(instance: StorageInstance, row: RetiredObjectEntity) {
    const ref = this.ledger.ref(row.storeFullName, row.objectKey);
    const outcome = await this.locks.run(ref, async ({ manager, row: key, created }) => {
      if (!(await manager.exists(RetiredObjectEntity, { where: { id: row.id } }))) {
        // Purged meanwhile (by another runner): leave no key row behind that this lock made.
        if (created) await manager.delete(StorageObjectEntity, { id: key.id });
        return 'gone' as const;
      }
      await manager.delete(RetiredObjectEntity, { id: row.id });
      const now = this.clock.now();
      const records = await manager.find(FileEntity, { where: { keyHash: ref.keyHash } });
      const pins = await manager.count(UploadPinEntity, { where: { keyHash: ref.keyHash } });
      if (pins > 0 || records.some((r) => !isExpired(r, now))) return 'revived' as const;
      if (records.length > 0) await manager.delete(FileEntity, { id: In(records.map((r) => r.id)) });
      await manager.delete(StorageObjectEntity, { id: key.id });
      await this.removeObject(instance, row.objectKey, row.objectHash);
      return 'removed' as const;
    });
    return outcome === SKIPPED ? 'gone' : outcome;
  }

  private async postpone(row: RetiredObjectEntity, err: unknown): Promise<void> {
    const attempts = row.attempts + 1;
    const backoff = Math.min(5000 * 2 ** Math.min(attempts, 20), MAX_BACKOFF_MS);
    const lastError = String((err as Error)?.message ?? err).slice(0, 255);
    this.logger.warn(
      `removing '${row.objectKey}' from ${row.storeFullName} failed (attempt ${attempts}): ${lastError}`,
    );
    await this.locks
      .exclusive(() =>
        this.dataSource
          .getRepository(RetiredObjectEntity)
          .update({ id: row.id }, { attempts, lastError, removeAfter: this.clock.now() + backoff }),
      )
      .catch((cause: unknown) => this.logger.error(`postponing '${row.objectKey}': ${String(cause)}`));
  }
}

/** Runs `work` on every item, at most `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
