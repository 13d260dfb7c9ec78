import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { In, LessThan, type DataSource } from 'typeorm';
import type { FileRecord } from '../database/file-record';
import { FileEntity } from '../database/entities/file.entity';
import { ResumableChunkEntity } from '../database/entities/resumable-chunk.entity';
import { ResumableUploadEntity } from '../database/entities/resumable-upload.entity';
import type { ObjectStat, StorageDriver } from '../drivers/storage-driver';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { STAGING_PREFIX } from '../keys/keys';
import { Clock } from '../ledger/clock';
import { KeyLocks } from '../ledger/key-locks';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { FileRecords } from '../records/file-records';
import { StorageRegistry } from '../registry/storage-registry';
import { UploadService } from '../upload/upload.service';
import type { UploadPlan } from '../upload/upload.types';
import { DatabaseLocker } from './database-locker';

/** Where resumable uploads stage their chunks: `.uploads/tus/{uploadId}/…`. */
export const RESUMABLE_PREFIX = `${STAGING_PREFIX}/tus/`;

/** The client's upload metadata this service reads (tus `Upload-Metadata`, decoded). */
export type ResumableMetadata = Record<string, string | null>;

const BATCH = 100;

/**
 * What the upload rules say of the bytes or the caller: no retry can pass, so the upload ends.
 * Anything else (a backend down or refusing, the in-flight caps, a timeout) leaves it complete
 * and unrecorded, for `GET {prefix}/tus/{id}` to finish later.
 */
const REFUSALS = new Set<StorageErrorCode>([
  StorageErrorCode.MD5_MISMATCH,
  StorageErrorCode.TOO_LARGE,
  StorageErrorCode.INVALID_PATH,
  StorageErrorCode.INVALID_ARGUMENT,
  StorageErrorCode.FORBIDDEN,
  StorageErrorCode.UNSUPPORTED_MEDIA_TYPE,
  StorageErrorCode.UNKNOWN_STORAGE,
]);

/**
 * The state of resumable uploads in the database (shared by every replica) and their chunks in
 * the instance's backend: creation, appending a chunk, completion through the normal upload path
 * (`UploadService`: md5, dedup, versions, expiry, limits), termination and clean-up.
 */
@Injectable()
export class ResumableUploads {
  private readonly logger = new Logger(ResumableUploads.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(Clock) private readonly clock: Clock,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly locks: KeyLocks,
    private readonly locker: DatabaseLocker,
    private readonly registry: StorageRegistry,
    private readonly uploads: UploadService,
    private readonly records: FileRecords,
  ) {}

  get expiryMs(): number {
    return this.options.lifecycle.resumableExpirySeconds * 1000;
  }

  /** The rules of a normal upload, applied at creation (before any byte). */
  plan(params: Parameters<UploadService['check']>[0]): UploadPlan {
    return this.uploads.check(params);
  }

  async create(id: string, plan: UploadPlan, size: number, metadata: ResumableMetadata, owner: string | null) {
    const now = this.clock.now();
    const row: ResumableUploadEntity = {
      id,
      storeFullName: plan.instance.name,
      name: plan.path,
      metadata: JSON.stringify(metadata),
      size,
      uploadOffset: 0,
      owner,
      createdAt: now,
      expiresAt: now + this.expiryMs,
      recordId: null,
    };
    await this.locks.exclusive(() => this.dataSource.getRepository(ResumableUploadEntity).insert(row));
    return row;
  }

  find(id: string): Promise<ResumableUploadEntity | null> {
    return this.locks.exclusive(() => this.dataSource.getRepository(ResumableUploadEntity).findOne({ where: { id } }));
  }

  async get(id: string): Promise<ResumableUploadEntity> {
    const row = await this.find(id);
    if (!row) throw new StorageError(StorageErrorCode.NOT_FOUND, 'no such upload; create a new one', { id });
    return row;
  }

  driverOf(row: ResumableUploadEntity): StorageDriver {
    return this.registry.get(row.storeFullName).driver;
  }

  /** A fresh object key for the chunk of `id` that starts at `start`. */
  chunkKey(id: string, start: number): string {
    return `${RESUMABLE_PREFIX}${id}/${start}.${randomBytes(6).toString('hex')}`;
  }

  /**
   * Records the stored chunk `objectKey` (`size` bytes from `start`) and moves the offset, only if
   * the upload is still at `start` and unfinished (compare-and-set: a request that outlived its
   * lock cannot record over a newer one). False when it was not recorded.
   */
  async append(id: string, start: number, size: number, objectKey: string): Promise<boolean> {
    return this.locks.exclusive(() =>
      this.dataSource.transaction(async (manager) => {
        const moved = await manager
          .createQueryBuilder()
          .update(ResumableUploadEntity)
          .set({ uploadOffset: start + size })
          .where('id = :id AND uploadOffset = :start AND recordId IS NULL AND uploadOffset + :size <= size', {
            id,
            start,
            size,
          })
          .execute();
        if (!moved.affected) return false;
        await manager.insert(ResumableChunkEntity, {
          uploadId: id,
          start,
          size,
          objectKey,
          createdAt: this.clock.now(),
        });
        return true;
      }),
    );
  }

  /**
   * The file record of a complete upload: made now through the normal upload path if it is not
   * made yet (the chunks streamed in order as one body), under the upload's lease so that one
   * replica does it once; the chunks are removed after. `E_CONFLICT` while bytes are missing. A
   * refusal by the upload rules (`REFUSALS`: md5 mismatch, limits) ends the upload: its bytes can
   * never pass; any other failure keeps it for a later try.
   */
  async complete(id: string, authorize?: (storage: string, key: string) => void): Promise<FileRecord> {
    const lock = this.locker.newLock(id);
    await lock.lock(new AbortController().signal, () => undefined);
    try {
      const row = await this.get(id);
      if (row.recordId !== null) return this.recordOf(row);
      if (row.uploadOffset < row.size) {
        throw new StorageError(
          StorageErrorCode.CONFLICT,
          `the upload has ${row.uploadOffset} of ${row.size} bytes; send the rest first`,
        );
      }
      const record = await this.store(row, authorize).catch(async (err: unknown) => {
        if (err instanceof StorageError && REFUSALS.has(err.code)) await this.discard(row);
        throw err;
      });
      await this.locks.exclusive(() =>
        this.dataSource.getRepository(ResumableUploadEntity).update({ id }, { recordId: record.id }),
      );
      await this.removeChunks(row, await this.chunksOf(id));
      return record;
    } finally {
      await lock.unlock();
    }
  }

  /** The record made of a finished upload; `E_NOT_FOUND` when it was deleted since. */
  async recordOf(row: ResumableUploadEntity): Promise<FileRecord> {
    const entity = await this.locks.exclusive(() =>
      this.dataSource.getRepository(FileEntity).findOne({ where: { id: row.recordId ?? -1 } }),
    );
    if (!entity) throw StorageError.notFound(row.name, row.storeFullName);
    return this.records.toRecord(entity);
  }

  /** Removes the upload: its state, then its chunks (a chunk left by a failure goes with the reconciler). */
  async discard(row: ResumableUploadEntity): Promise<void> {
    const chunks = await this.chunksOf(row.id);
    await this.locks.exclusive(() =>
      this.dataSource.transaction(async (manager) => {
        await manager.delete(ResumableChunkEntity, { uploadId: row.id });
        await manager.delete(ResumableUploadEntity, { id: row.id });
      }),
    );
    await this.removeChunks(row, chunks).catch((err: unknown) =>
      this.logger.warn(`removing chunks of upload ${row.id}: ${String(err)}`),
    );
  }

  /**
   * Uploads past their expiry (abandoned, or finished and kept for their record): removed, those
   * another request holds left for the next run. `storage`: only that instance's. Returns how many.
   */
  async removeExpired(storage?: string): Promise<number> {
    let removed = 0;
    const rows = await this.locks.exclusive(() =>
      this.dataSource.getRepository(ResumableUploadEntity).find({
        where: { expiresAt: LessThan(this.clock.now()), ...(storage ? { storeFullName: storage } : {}) },
        take: BATCH * 10,
      }),
    );
    const known = this.registry.names();
    for (const row of rows.filter((r) => known.includes(r.storeFullName))) {
      const owner = `reaper#${randomBytes(6).toString('hex')}`;
      if (!(await this.locker.tryTake(row.id, owner))) continue;
      try {
        await this.discard(row);
        removed += 1;
      } finally {
        await this.locker.release(row.id, owner);
      }
    }
    // Leases belong to no instance: only a run over every instance clears the long dead ones.
    if (!storage) await this.locker.removeStale();
    return removed;
  }

  /**
   * Staged chunk objects (`.uploads/tus/…`) older than `graceLimit` that no chunk row records: left
   * by a write that failed or a process that died before recording. Removed; returns how many.
   */
  async removeUnrecordedChunks(driver: StorageDriver, objects: ObjectStat[], graceLimit: number): Promise<number> {
    const old = objects.filter((o) => o.key.startsWith(RESUMABLE_PREFIX) && o.lastModified.getTime() < graceLimit);
    let removed = 0;
    for (let i = 0; i < old.length; i += BATCH) {
      const page = old.slice(i, i + BATCH);
      const recorded = await this.locks.exclusive(() =>
        this.dataSource.getRepository(ResumableChunkEntity).find({
          select: { objectKey: true },
          where: { objectKey: In(page.map((o) => o.key)) },
        }),
      );
      const keep = new Set(recorded.map((c) => c.objectKey));
      for (const object of page.filter((o) => !keep.has(o.key))) {
        await driver.delete(object.key);
        removed += 1;
      }
    }
    return removed;
  }

  private chunksOf(id: string): Promise<ResumableChunkEntity[]> {
    return this.locks.exclusive(() =>
      this.dataSource.getRepository(ResumableChunkEntity).find({ where: { uploadId: id }, order: { start: 'ASC' } }),
    );
  }

  private async removeChunks(row: ResumableUploadEntity, chunks: ResumableChunkEntity[]): Promise<void> {
    const driver = this.driverOf(row);
    for (const chunk of chunks) await driver.delete(chunk.objectKey);
    await this.locks.exclusive(() => this.dataSource.getRepository(ResumableChunkEntity).delete({ uploadId: row.id }));
  }

  /** Streams the chunks, in order, through the normal upload path. */
  private async store(
    row: ResumableUploadEntity,
    authorize?: (storage: string, key: string) => void,
  ): Promise<FileRecord> {
    const chunks = await this.chunksOf(row.id);
    assertContiguous(chunks, row.size);
    const metadata = JSON.parse(row.metadata) as ResumableMetadata;
    return this.uploads.uploadStream({
      file: row.name,
      body: concatenated(this.driverOf(row), chunks),
      size: row.size,
      storage: row.storeFullName,
      md5: metadata.md5 ?? undefined,
      contentType: metadata.filetype ?? undefined,
      fileName: metadata.filename ?? undefined,
      expires: metadata.expires === null || metadata.expires === undefined ? undefined : Number(metadata.expires),
      user: row.owner ?? undefined,
      authorize,
    });
  }
}

/** The chunks cover 0..size with no gap and no overlap (else the state is corrupt: never recorded). */
function assertContiguous(chunks: ResumableChunkEntity[], size: number): void {
  let next = 0;
  for (const chunk of chunks) {
    if (chunk.start !== next) break;
    next += chunk.size;
  }
  if (next !== size) {
    throw new StorageError(StorageErrorCode.INTERNAL, `the stored chunks end at ${next}, not at ${size}`);
  }
}

/** The chunk objects read one after the other as one stream; nothing is read before it is asked for. */
function concatenated(driver: StorageDriver, chunks: ResumableChunkEntity[]): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    for (const chunk of chunks) {
      const stream = await driver.get(chunk.objectKey);
      for await (const piece of stream) yield piece as Buffer;
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}
